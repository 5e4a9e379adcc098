//! Every name occurrence in bodies: references, call sites (for parameter
//! hints and signature help) and typed expressions (for member completion).

use crate::index::{CallSite, SymbolKey, SymbolKind, Target, TypedExpr};
use solar::{
    interface::Span,
    sema::{
        hir::{self, Visit},
        ty::ResolvedMember,
    },
};
use std::{
    ops::{ControlFlow, Range},
    sync::Arc,
};

use super::symbols::{Extractor, file_range, last_segment};

/// Walks bodies and records every name occurrence.
pub(super) struct RefVisitor<'x, 'a, 'gcx> {
    pub(super) ex: &'x mut Extractor<'a, 'gcx>,
    pub(super) source: hir::SourceId,
    pub(super) contract: Option<hir::ContractId>,
}

impl<'gcx> RefVisitor<'_, '_, 'gcx> {
    fn range(&self, span: Span) -> Range<usize> {
        file_range(self.ex.file_of(self.source), span)
    }

    /// `expr` is the expression naming `res`; builtins take their type from it
    /// (`Builtin::ty` is unreachable!() for some builtins in solar 0.2.0).
    fn res_target(&self, res: hir::Res, expr: hir::ExprId) -> Option<Target> {
        let gcx = self.ex.gcx;
        match res {
            hir::Res::Item(item) => self.ex.key_of(item).map(Target::Symbol),
            hir::Res::Builtin(b) => Some(Target::Builtin {
                name: b.name().to_string(),
                ty: gcx
                    .type_of_expr(expr)
                    .map(|t| t.display(gcx).to_string())
                    .unwrap_or_default(),
            }),
            _ => None,
        }
    }

    fn record_typed(&mut self, expr: &hir::Expr<'_>) {
        let gcx = self.ex.gcx;
        if let Some(ty) = gcx.type_of_expr(expr.id)
            && let Some(members) = self.ex.members_for(self.source, ty, self.contract)
        {
            let range = self.range(expr.span);
            if let Some(f) = self.ex.files.get_mut(&self.source) {
                f.typed_exprs.push(TypedExpr { range, members });
            }
        }
    }
}

impl<'gcx> Visit<'gcx> for RefVisitor<'_, '_, 'gcx> {
    type BreakValue = std::convert::Infallible;

    fn hir(&self) -> &'gcx hir::Hir<'gcx> {
        &self.ex.gcx.hir
    }

    fn visit_contract(
        &mut self,
        contract: &'gcx hir::Contract<'gcx>,
    ) -> ControlFlow<Self::BreakValue> {
        let prev = self.contract;
        self.contract = self
            .ex
            .gcx
            .hir
            .contract_ids()
            .find(|&c| std::ptr::eq(self.ex.gcx.hir.contract(c), contract));
        for using in contract.usings {
            self.ex.using_refs(self.source, using);
        }
        for base in contract.bases_args {
            self.visit_modifier(base)?;
        }
        for &item in contract.items {
            self.visit_nested_item(item)?;
        }
        self.contract = prev;
        ControlFlow::Continue(())
    }

    fn visit_function(&mut self, func: &'gcx hir::Function<'gcx>) -> ControlFlow<Self::BreakValue> {
        let gcx = self.ex.gcx;
        let scope = self.range(func.span);
        // Locals declared in the body are symbols scoped to the function.
        if let Some(body) = &func.body {
            let mut locals = LocalCollector {
                hir: &gcx.hir,
                vars: Vec::new(),
            };
            for stmt in body.stmts {
                let _ = locals.visit_stmt(stmt);
            }
            for v in locals.vars {
                if let Some(sym) = self.ex.make_symbol(
                    self.source,
                    v.into(),
                    SymbolKind::Local,
                    self.contract,
                    scope.clone(),
                ) {
                    self.ex.push_symbol(self.source, sym);
                }
            }
        }
        for &p in func.parameters.iter().chain(func.returns) {
            self.visit_ty(&gcx.hir.variable(p).ty)?;
        }
        for modifier in func.modifiers {
            self.visit_modifier(modifier)?;
        }
        if let Some(body) = &func.body {
            for stmt in body.stmts {
                self.visit_stmt(stmt)?;
            }
        }
        ControlFlow::Continue(())
    }

    fn visit_modifier(
        &mut self,
        modifier: &'gcx hir::Modifier<'gcx>,
    ) -> ControlFlow<Self::BreakValue> {
        let range = self.range(modifier.span);
        let text = self.ex.text(self.source).get(range.clone()).unwrap_or("");
        if let Some(key) = self.ex.key_of(modifier.id) {
            self.ex
                .push_ref(self.source, last_segment(text, range), Target::Symbol(key));
        }
        self.visit_call_args(&modifier.args)
    }

    fn visit_var(&mut self, var: &'gcx hir::Variable<'gcx>) -> ControlFlow<Self::BreakValue> {
        self.visit_ty(&var.ty)?;
        if let Some(init) = var.initializer {
            self.visit_expr(init)?;
        }
        ControlFlow::Continue(())
    }

    fn visit_ty(&mut self, ty: &'gcx hir::Type<'gcx>) -> ControlFlow<Self::BreakValue> {
        self.ex.type_ref(self.source, ty);
        match ty.kind {
            hir::TypeKind::Array(arr) => {
                self.visit_ty(&arr.element)?;
                if let Some(len) = arr.size {
                    self.visit_expr(len)?;
                }
            }
            hir::TypeKind::Mapping(map) => {
                self.visit_ty(&map.key)?;
                self.visit_ty(&map.value)?;
            }
            hir::TypeKind::Function(func) => {
                for &p in func.parameters.iter().chain(func.returns) {
                    self.visit_nested_var(p)?;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn visit_expr(&mut self, expr: &'gcx hir::Expr<'gcx>) -> ControlFlow<Self::BreakValue> {
        let gcx = self.ex.gcx;
        match expr.kind {
            hir::ExprKind::Ident(res) => {
                let chosen = gcx
                    .resolved_callee(expr.id)
                    .map(|c| c.res)
                    .or_else(|| res.iter().copied().find(|r| !r.is_err()));
                if let Some(res) = chosen
                    && let Some(target) = self.res_target(res, expr.id)
                {
                    let range = self.range(expr.span);
                    self.ex.push_ref(self.source, range, target);
                }
                self.record_typed(expr);
            }
            hir::ExprKind::Member(base, ident) => {
                let target = match gcx.resolved_callee(expr.id) {
                    Some(c) => self.res_target(c.res, expr.id),
                    None => match gcx.resolved_member(expr.id) {
                        Some(ResolvedMember::Res(res)) => self.res_target(res, expr.id),
                        Some(ResolvedMember::StructField {
                            struct_id,
                            field_index,
                        }) => gcx
                            .hir
                            .strukt(struct_id)
                            .fields
                            .get(field_index)
                            .and_then(|&f| self.ex.key_of(f.into()))
                            .map(Target::Symbol),
                        Some(ResolvedMember::EnumVariant {
                            enum_id,
                            variant_index,
                        }) => {
                            let e = gcx.hir.enumm(enum_id);
                            e.variants.get(variant_index).and_then(|v| {
                                let file = self.ex.file_of(e.source);
                                Some(Target::Symbol(SymbolKey {
                                    path: Arc::from(file.name.as_real()?),
                                    offset: file_range(file, v.span).start as u32,
                                }))
                            })
                        }
                        None => None,
                    },
                };
                if let Some(target) = target {
                    let range = self.range(ident.span);
                    self.ex.push_ref(self.source, range, target);
                }
                self.record_typed(base);
                self.record_typed(expr);
                self.visit_expr(base)?;
            }
            hir::ExprKind::Call(callee, ref args, opts) => {
                self.record_call(expr, callee, args);
                self.visit_expr(callee)?;
                if let Some(opts) = opts {
                    for arg in opts.args {
                        self.visit_expr(&arg.value)?;
                    }
                }
                self.visit_call_args(args)?;
            }
            hir::ExprKind::Index(..) => {
                self.record_typed(expr);
                return walk_expr(self, expr);
            }
            _ => return walk_expr(self, expr),
        }
        ControlFlow::Continue(())
    }
}

impl<'gcx> RefVisitor<'_, '_, 'gcx> {
    fn record_call(
        &mut self,
        expr: &'gcx hir::Expr<'gcx>,
        callee: &'gcx hir::Expr<'gcx>,
        args: &'gcx hir::CallArgs<'gcx>,
    ) {
        let gcx = self.ex.gcx;
        let params: Vec<String> = gcx
            .type_of_expr(callee.id)
            .and_then(|ty| gcx.callable_signature_of_ty(ty))
            .and_then(|sig| sig.param_source)
            .map(|src| {
                gcx.callable_param_names(src)
                    .iter()
                    .map(|n| n.map(|s| s.to_string()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let callee_key = gcx.resolved_callee(callee.id).and_then(|c| match c.res {
            hir::Res::Item(item) => self.ex.key_of(item),
            _ => None,
        });
        let arg_ranges = match args.kind {
            hir::CallArgsKind::Unnamed(exprs) => exprs.iter().map(|e| self.range(e.span)).collect(),
            hir::CallArgsKind::Named(_) => Vec::new(),
        };
        let call = CallSite {
            range: self.range(expr.span),
            args_range: self.range(args.span),
            args: arg_ranges,
            params,
            callee: callee_key,
        };
        if let Some(f) = self.ex.files.get_mut(&self.source) {
            f.calls.push(call);
        }
    }
}

/// The default traversal of one expression (re-dispatching children to `v`).
fn walk_expr<'gcx, V: Visit<'gcx, BreakValue = std::convert::Infallible>>(
    v: &mut V,
    expr: &'gcx hir::Expr<'gcx>,
) -> ControlFlow<std::convert::Infallible> {
    match expr.kind {
        hir::ExprKind::Delete(e)
        | hir::ExprKind::Payable(e)
        | hir::ExprKind::Unary(_, e)
        | hir::ExprKind::YulMember(e, _)
        | hir::ExprKind::Member(e, _) => v.visit_expr(e),
        hir::ExprKind::Assign(l, _, r) | hir::ExprKind::Binary(l, _, r) => {
            v.visit_expr(l)?;
            v.visit_expr(r)
        }
        hir::ExprKind::Index(e, i) => {
            v.visit_expr(e)?;
            if let Some(i) = i {
                v.visit_expr(i)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::Slice(e, s, t) => {
            v.visit_expr(e)?;
            if let Some(s) = s {
                v.visit_expr(s)?;
            }
            if let Some(t) = t {
                v.visit_expr(t)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::Ternary(a, b, c) => {
            v.visit_expr(a)?;
            v.visit_expr(b)?;
            v.visit_expr(c)
        }
        hir::ExprKind::Array(es) => {
            for e in es {
                v.visit_expr(e)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::Tuple(es) => {
            for e in es.iter().copied().flatten() {
                v.visit_expr(e)?;
            }
            ControlFlow::Continue(())
        }
        hir::ExprKind::New(ref ty)
        | hir::ExprKind::TypeCall(ref ty)
        | hir::ExprKind::Type(ref ty) => v.visit_ty(ty),
        hir::ExprKind::Call(c, ref args, opts) => {
            v.visit_expr(c)?;
            if let Some(opts) = opts {
                for arg in opts.args {
                    v.visit_expr(&arg.value)?;
                }
            }
            v.visit_call_args(args)
        }
        hir::ExprKind::Ident(_) | hir::ExprKind::Lit(_) | hir::ExprKind::Err(_) => {
            ControlFlow::Continue(())
        }
    }
}

/// Collects variables declared by statements of a body.
struct LocalCollector<'gcx> {
    hir: &'gcx hir::Hir<'gcx>,
    vars: Vec<hir::VariableId>,
}

impl<'gcx> Visit<'gcx> for LocalCollector<'gcx> {
    type BreakValue = std::convert::Infallible;

    fn hir(&self) -> &'gcx hir::Hir<'gcx> {
        self.hir
    }

    fn visit_nested_var(&mut self, id: hir::VariableId) -> ControlFlow<Self::BreakValue> {
        let var = self.hir.variable(id);
        if matches!(var.kind, hir::VarKind::Statement | hir::VarKind::TryCatch) {
            self.vars.push(id);
        }
        ControlFlow::Continue(())
    }

    fn visit_expr(&mut self, _expr: &'gcx hir::Expr<'gcx>) -> ControlFlow<Self::BreakValue> {
        ControlFlow::Continue(())
    }
}
