//! The check solar 0.2's type checker leaves out: a `return` value must
//! convert implicitly to the function's declared return types, as solc
//! requires ("Return argument type … is not implicitly convertible to
//! expected type …"). Without it, `return msg.sender;` in a function
//! returning `uint256` showed nothing until solc ran on save.

use solar::{
    interface::Span,
    sema::{
        Gcx, Ty,
        hir::{self, StmtKind},
        ty::TyKind,
    },
};

/// A `return` whose value does not fit the function's return types.
pub(crate) struct ReturnMismatch {
    pub(crate) source: hir::SourceId,
    pub(crate) span: Span,
    pub(crate) message: String,
}

/// Checks every `return <value>;` of the functions in the sources `wanted` accepts.
pub(crate) fn check_returns(
    gcx: Gcx<'_>,
    wanted: &dyn Fn(hir::SourceId) -> bool,
) -> Vec<ReturnMismatch> {
    let mut out = Vec::new();
    for func in gcx.hir.functions() {
        // Getters are synthesized from the variable and always fit.
        if func.gettee.is_some() || !wanted(func.source) {
            continue;
        }
        let Some(body) = &func.body else {
            continue;
        };
        let expected: Vec<Ty<'_>> = func
            .returns
            .iter()
            .map(|&v| gcx.type_of_item(v.into()))
            .collect();
        if expected.iter().any(|t| t.references_error()) {
            continue;
        }
        let mut returns = Vec::new();
        collect_returns(body.stmts, &mut returns);
        for value in returns {
            if let Some(problem) = check_one(gcx, value, &expected) {
                out.push(ReturnMismatch {
                    source: func.source,
                    span: problem.0,
                    message: problem.1,
                });
            }
        }
    }
    out
}

/// The value expressions of the `return` statements in `stmts`, nested blocks included.
fn collect_returns<'hir>(stmts: &'hir [hir::Stmt<'hir>], out: &mut Vec<&'hir hir::Expr<'hir>>) {
    for stmt in stmts {
        match &stmt.kind {
            StmtKind::Return(Some(value)) => out.push(value),
            StmtKind::Block(block) | StmtKind::UncheckedBlock(block) | StmtKind::Loop(block, _) => {
                collect_returns(block.stmts, out)
            }
            StmtKind::If(_, then, otherwise) => {
                collect_returns(std::slice::from_ref(*then), out);
                if let Some(otherwise) = otherwise {
                    collect_returns(std::slice::from_ref(*otherwise), out);
                }
            }
            StmtKind::Try(try_stmt) => {
                for clause in try_stmt.clauses {
                    collect_returns(clause.block.stmts, out);
                }
            }
            // An assembly block's `leave` carries no value.
            _ => {}
        }
    }
}

fn check_one<'gcx>(
    gcx: Gcx<'gcx>,
    value: &'gcx hir::Expr<'gcx>,
    expected: &[Ty<'gcx>],
) -> Option<(Span, String)> {
    let actual = gcx.type_of_expr(value.id)?;
    if actual.references_error() {
        return None;
    }
    let found: &[Ty<'gcx>] = match actual.kind {
        TyKind::Tuple(parts) => parts,
        _ => std::slice::from_ref(&actual),
    };
    if found.len() != expected.len() {
        return Some((
            value.span,
            format!(
                "different number of return values: the function returns {}, this `return` gives {}",
                expected.len(),
                found.len()
            ),
        ));
    }
    let parts: Option<&[Option<&hir::Expr<'_>>]> = match &value.kind {
        hir::ExprKind::Tuple(parts) if parts.len() == found.len() => Some(parts),
        _ => None,
    };
    for (i, (&from, &to)) in found.iter().zip(expected).enumerate() {
        if let Err(err) = from.try_convert_implicit_to(to, gcx) {
            let span = parts
                .and_then(|p| p[i])
                .map_or(value.span, |part| part.span);
            return Some((
                span,
                format!("mismatched types: {}", err.message(from, to, gcx)),
            ));
        }
    }
    None
}
