//! Unit tests: `test*()` without parameters, one call on the post-`setUp` state.

use alloy::{json_abi::Function, primitives::Bytes};

use super::SuiteRunner;
use crate::{
    discovery::expects_failure,
    report::{TestKind, TestResult, TestStatus},
};

impl SuiteRunner<'_> {
    pub(super) fn run_unit(&mut self, function: &Function) -> TestResult {
        let data = Bytes::from(function.selector().to_vec());
        let expect_fail = expects_failure(function);
        let mut result = TestResult::passing(function.signature(), TestKind::Unit { gas: 0 });
        let call = match self.call_test(data.clone(), false) {
            Ok(c) => c,
            Err(e) => {
                result.status = TestStatus::Fail;
                result.reason = Some(e.to_string());
                return result;
            }
        };
        result.kind = TestKind::Unit { gas: call.gas };
        result.logs = call.record.console.clone();
        result.gas_snapshots = call.record.gas_snapshots.clone();
        self.verdict(&call, expect_fail).record_unit(&mut result);
        if self.config.traces.wants(result.status) {
            result.trace = self.traced(data);
        }
        result
    }
}
