//! solc's WebAssembly build run in-process by wasmtime.
//!
//! The module was built by Emscripten for a JavaScript host. Its imports (C++
//! exception support, `invoke_*` trampolines, heap growth, a few libc
//! syscalls) are implemented here in Rust, as the glue in `soljson.js`
//! implements them in JavaScript:
//!
//! - A C++ `throw` is a host error ([`CppException`]) that unwinds the wasm
//!   stack to the nearest `invoke_*` host frame, which restores the stack
//!   pointer and calls `setThrew(1, 0)`: the landing pad in the caller then
//!   runs, exactly as under Emscripten's JS exception handling.
//! - 64-bit arguments and results cross the import boundary split into two
//!   32-bit halves (`tempRet0` carries a result's high half).

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wasmtime::{
    Caller, Config, Engine, Extern, Func, Global, Instance, Linker, Memory, Module, OptLevel,
    Store, Table, TypedFunc, Val, ValType,
};

use super::soljson::Soljson;
use super::{Solc, SolcError};

/// Emscripten's heap limit (`getHeapMax()` in the glue).
const MAX_HEAP_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Emscripten's C++ exception header sits just before the thrown object.
const EXCEPTION_HEADER_SIZE: u32 = 24;
const WASM_PAGE: u64 = 65536;

/// A C++ exception in flight: the thrown object's address.
#[derive(Debug)]
struct CppException(u32);

impl std::fmt::Display for CppException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "uncaught C++ exception at {:#x} inside solc", self.0)
    }
}
impl std::error::Error for CppException {}

/// The engine settings every cached `.cwasm` must have been produced with.
pub fn engine() -> Result<Engine, SolcError> {
    let mut config = Config::new();
    config.cranelift_opt_level(OptLevel::Speed);
    // C++ exceptions unwind as host errors; capturing a wasm backtrace for
    // each would cost more than the compile itself.
    config.wasm_backtrace_max_frames(None);
    Engine::new(&config).map_err(|err| SolcError::Message(format!("cannot start wasmtime: {err}")))
}

/// Compiles the wasm module to native code (seconds, and most of a GiB).
pub fn precompile(engine: &Engine, wasm: &[u8]) -> Result<Vec<u8>, SolcError> {
    engine
        .precompile_module(wasm)
        .map_err(|err| SolcError::Message(format!("wasmtime could not compile solc: {err}")))
}

/// Revision of [`prepare_module`]'s rewrite, part of the `.cwasm` cache key:
/// a module precompiled by an older rewrite is never loaded.
pub const MODULE_PREPARATION: u32 = 1;

/// What [`prepare_module`] names the exported stack pointer.
const STACK_POINTER_EXPORT: &str = "forja_stack_pointer";

/// Rewrites solc's module before it is precompiled: the global behind
/// `stackSave` (the C stack pointer, which Emscripten does not export) gets
/// an export, so an `invoke_*` trampoline reads and restores it as a global
/// instead of calling `stackSave` in wasm on every call; that call was a
/// third of the host↔wasm transitions of a compile. Everything else is
/// copied byte for byte.
pub fn prepare_module(wasm: &[u8], stack_save_export: &str) -> Result<Vec<u8>, SolcError> {
    use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef};
    let invalid = |err: wasmparser::BinaryReaderError| {
        SolcError::Message(format!("solc wasm: the embedded module is invalid: {err}"))
    };
    let mut sections: Vec<(u8, std::ops::Range<usize>)> = vec![];
    let mut exports: Vec<(&str, wasm_encoder::ExportKind, u32)> = vec![];
    let mut imported_functions = 0u32;
    let mut bodies_seen = 0u32;
    let mut stack_save = None;
    let mut stack_pointer = None;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        if let Some(section) = payload.as_section() {
            sections.push(section);
        }
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(
                        import.map_err(invalid)?.ty,
                        TypeRef::Func(_) | TypeRef::FuncExact(_)
                    ) {
                        imported_functions += 1;
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    let kind = match export.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => {
                            wasm_encoder::ExportKind::Func
                        }
                        ExternalKind::Table => wasm_encoder::ExportKind::Table,
                        ExternalKind::Memory => wasm_encoder::ExportKind::Memory,
                        ExternalKind::Global => wasm_encoder::ExportKind::Global,
                        ExternalKind::Tag => wasm_encoder::ExportKind::Tag,
                    };
                    if export.name == stack_save_export && kind == wasm_encoder::ExportKind::Func {
                        stack_save = Some(export.index);
                    }
                    exports.push((export.name, kind, export.index));
                }
            }
            Payload::CodeSectionEntry(body) => {
                let index = imported_functions + bodies_seen;
                bodies_seen += 1;
                if Some(index) == stack_save {
                    // `stackSave` is exactly `global.get $__stack_pointer`.
                    let mut ops = body.get_operators_reader().map_err(invalid)?;
                    if let (Ok(Operator::GlobalGet { global_index }), Ok(Operator::End)) =
                        (ops.read(), ops.read())
                    {
                        stack_pointer = Some(global_index);
                    }
                }
            }
            _ => {}
        }
    }
    let stack_pointer = stack_pointer.ok_or_else(|| {
        SolcError::Message(format!(
            "solc wasm: `{stack_save_export}` (stackSave) is not a read of the stack pointer global"
        ))
    })?;
    let mut module = wasm_encoder::Module::new();
    for (id, range) in sections {
        if id == wasm_encoder::SectionId::Export as u8 {
            let mut section = wasm_encoder::ExportSection::new();
            for (name, kind, index) in &exports {
                section.export(name, *kind, *index);
            }
            section.export(
                STACK_POINTER_EXPORT,
                wasm_encoder::ExportKind::Global,
                stack_pointer,
            );
            module.section(&section);
        } else {
            module.section(&wasm_encoder::RawSection {
                id,
                data: &wasm[range],
            });
        }
    }
    Ok(module.finish())
}

/// Loads a `.cwasm` written by [`precompile`].
pub fn load_precompiled(engine: &Engine, path: &Path) -> Result<Module, SolcError> {
    // SAFETY: the file is one forja wrote with the same engine settings,
    // keyed by the wasmtime version; wasmtime checks its header and refuses
    // artifacts from another engine configuration.
    unsafe { Module::deserialize_file(engine, path) }.map_err(|err| {
        SolcError::Message(format!(
            "precompiled solc {} is unusable: {err}",
            path.display()
        ))
    })
}

/// solc's wasm build, ready to compile.
pub struct WasmSolc {
    version: semver::Version,
    long_version: String,
    engine: Engine,
    module: Module,
    glue: Soljson,
    /// One live instance, reused across compiles (reset with
    /// `solidity_reset`): instantiation costs more than a small compile.
    instance: Mutex<Option<SolcInstance>>,
}

impl std::fmt::Debug for WasmSolc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmSolc")
            .field("version", &self.long_version)
            .finish()
    }
}

impl WasmSolc {
    /// Prepares a compiler from a loaded module and its glue, and reads the
    /// version it reports.
    pub fn new(engine: Engine, module: Module, glue: Soljson) -> Result<Self, SolcError> {
        let mut instance = SolcInstance::new(&engine, &module, &glue)?;
        let long_version = instance.version()?;
        let version = parse_long_version(&long_version)?;
        Ok(Self {
            version,
            long_version,
            engine,
            module,
            glue,
            instance: Mutex::new(Some(instance)),
        })
    }
}

/// `0.8.30+commit.73712a01.Emscripten.clang` → `0.8.30`.
pub fn parse_long_version(long: &str) -> Result<semver::Version, SolcError> {
    let core = long.split(['+', '-']).next().unwrap_or(long);
    semver::Version::parse(core.trim())
        .map_err(|_| SolcError::Message(format!("solc reported an unreadable version `{long}`")))
}

impl Solc for WasmSolc {
    fn version(&self) -> &semver::Version {
        &self.version
    }

    fn long_version(&self) -> &str {
        &self.long_version
    }

    fn compile_standard_json(&self, input: &str) -> Result<String, SolcError> {
        let mut slot = self
            .instance
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut instance = match slot.take() {
            Some(instance) => instance,
            None => SolcInstance::new(&self.engine, &self.module, &self.glue)?,
        };
        // An instance that failed mid-compile may hold broken state: it is
        // dropped, and the next compile starts a fresh one.
        let output = instance.compile(input)?;
        *slot = Some(instance);
        Ok(output)
    }
}

/// Host-side state of the Emscripten runtime for one instance.
#[derive(Default)]
struct HostState {
    /// Shared, not cloned per call: cloning seven `TypedFunc`s (each holding
    /// a registered type) on every host call was a third of a compile.
    exports: Option<Arc<Exports>>,
    temp_ret0: i32,
    exception_last: u32,
    exceptions_caught: Vec<u32>,
    /// C++ exceptions caught by an `invoke_*` during the current compile:
    /// solc throws on errors, so this should stay small on valid input.
    exceptions_unwound: u64,
    uncaught_exceptions: i32,
    /// What solc wrote to stdout/stderr (it normally writes nothing).
    console: Vec<u8>,
    started: Option<Instant>,
    /// Table entries already looked up. `Table::get` registers a new `Func`
    /// in the store on every call, which made each `invoke_*` slow and grew
    /// the store without bound; Emscripten's table does not change after
    /// start-up, so each entry is looked up once.
    table_cache: Vec<Option<Func>>,
}

struct Exports {
    memory: Memory,
    table: Table,
    malloc: TypedFunc<i32, i32>,
    free: TypedFunc<i32, ()>,
    set_threw: TypedFunc<(i32, i32), ()>,
    /// The C stack pointer, exported by [`prepare_module`].
    stack_pointer: Global,
    cxa_can_catch: TypedFunc<(i32, i32, i32), i32>,
    cxa_is_pointer_type: TypedFunc<i32, i32>,
}

struct SolcInstance {
    store: Store<HostState>,
    version: TypedFunc<(), i32>,
    compile: TypedFunc<(i32, i32, i32), i32>,
    reset: Option<TypedFunc<(), ()>>,
    alloc: Option<TypedFunc<i32, i32>>,
}

impl SolcInstance {
    fn new(engine: &Engine, module: &Module, glue: &Soljson) -> Result<Self, SolcError> {
        let fail = |what: &str, err: wasmtime::Error| {
            SolcError::Message(format!("solc wasm: {what}: {err}"))
        };
        let mut store = Store::new(
            engine,
            HostState {
                started: Some(Instant::now()),
                ..Default::default()
            },
        );
        let mut linker: Linker<HostState> = Linker::new(engine);
        // The `invoke_*` trampolines read the exports without touching the
        // store's data, so a call borrows nothing and clones nothing.
        let shared_exports: Arc<OnceLock<Arc<Exports>>> = Arc::default();
        for import in module.imports() {
            let Some(ty) = import.ty().func().cloned() else {
                continue;
            };
            let js_name = glue
                .imports
                .get(import.name())
                .cloned()
                .unwrap_or_else(|| import.name().to_string());
            if let Some(signature) = js_name.strip_prefix("invoke_")
                && link_typed_invoke(
                    &mut linker,
                    import.module(),
                    import.name(),
                    signature,
                    &shared_exports,
                )
                .map_err(|err| fail("linking", err))?
            {
                continue;
            }
            let handler = host_function(&js_name, &ty);
            let result_types: Vec<ValType> = ty.results().collect();
            linker
                .func_new(
                    import.module(),
                    import.name(),
                    ty,
                    move |caller, params, results| {
                        // wasmtime hands results in as null funcrefs; a handler
                        // that has nothing to return (older glue declares an
                        // i32 result on e.g. `emscripten_memcpy_big`) returns 0.
                        for (slot, ty) in results.iter_mut().zip(&result_types) {
                            *slot = zero_of(ty);
                        }
                        handler(caller, params, results)
                    },
                )
                .map_err(|err| fail("linking", err))?;
        }
        let instance: Instance = linker
            .instantiate(&mut store, module)
            .map_err(|err| fail("instantiating", err))?;

        let func = |store: &mut Store<HostState>, name: &str| -> Result<Func, SolcError> {
            let export = glue.export(name)?;
            instance.get_func(&mut *store, export).ok_or_else(|| {
                SolcError::Message(format!("solc wasm: missing export {name} ({export})"))
            })
        };
        macro_rules! typed {
            ($name:expr) => {
                func(&mut store, $name)?
                    .typed(&store)
                    .map_err(|err| fail($name, err))?
            };
        }
        let memory = match instance.get_export(&mut store, glue.export("memory")?) {
            Some(Extern::Memory(memory)) => memory,
            _ => return Err(SolcError::Message("solc wasm: no exported memory".into())),
        };
        let table = instance
            .get_table(&mut store, glue.export("table")?)
            .ok_or_else(|| SolcError::Message("solc wasm: no exported function table".into()))?;
        let stack_pointer = instance
            .get_global(&mut store, STACK_POINTER_EXPORT)
            .ok_or_else(|| {
                SolcError::Message(
                    "solc wasm: the module was not prepared (no stack pointer export)".into(),
                )
            })?;
        let exports = Exports {
            memory,
            table,
            malloc: typed!("_malloc"),
            free: typed!("_free"),
            set_threw: typed!("_setThrew"),
            stack_pointer,
            cxa_can_catch: typed!("___cxa_can_catch"),
            cxa_is_pointer_type: typed!("___cxa_is_pointer_type"),
        };
        let exports = Arc::new(exports);
        let _ = shared_exports.set(exports.clone());
        store.data_mut().exports = Some(exports);
        let ctors: TypedFunc<(), ()> = typed!("___wasm_call_ctors");
        ctors
            .call(&mut store, ())
            .map_err(|err| fail("initialising", err))?;
        let version = typed!("_solidity_version");
        let compile = typed!("_solidity_compile");
        let reset = match glue.exports.contains_key("_solidity_reset") {
            true => Some(typed!("_solidity_reset")),
            false => None,
        };
        let alloc = match glue.exports.contains_key("_solidity_alloc") {
            true => Some(typed!("_solidity_alloc")),
            false => None,
        };
        Ok(Self {
            store,
            version,
            compile,
            reset,
            alloc,
        })
    }

    fn exports(&self) -> Arc<Exports> {
        self.store
            .data()
            .exports
            .clone()
            .expect("exports are set at instantiation")
    }

    fn version(&mut self) -> Result<String, SolcError> {
        let ptr = self.version.call(&mut self.store, ()).map_err(trap)?;
        self.read_c_string(ptr as u32)
    }

    fn compile(&mut self, input: &str) -> Result<String, SolcError> {
        let exports = self.exports();
        let len = input.len() as i32 + 1;
        let ptr = match &self.alloc {
            Some(alloc) => alloc.call(&mut self.store, len),
            None => exports.malloc.call(&mut self.store, len),
        }
        .map_err(trap)?;
        let memory = exports.memory;
        memory
            .write(&mut self.store, ptr as usize, input.as_bytes())
            .and_then(|()| memory.write(&mut self.store, ptr as usize + input.len(), &[0]))
            .map_err(|err| SolcError::Message(format!("solc wasm: writing input: {err}")))?;
        let out = self
            .compile
            .call(&mut self.store, (ptr, 0, 0))
            .map_err(trap)?;
        let output = self.read_c_string(out as u32)?;
        let unwound = std::mem::take(&mut self.store.data_mut().exceptions_unwound);
        tracing::debug!(unwound, "solc wasm compile: C++ exceptions caught");
        // The output buffer belongs to solc until reset; the input is ours.
        exports.free.call(&mut self.store, ptr).map_err(trap)?;
        if let Some(reset) = &self.reset {
            reset.call(&mut self.store, ()).map_err(trap)?;
        }
        Ok(output)
    }

    fn read_c_string(&mut self, ptr: u32) -> Result<String, SolcError> {
        let data = self.exports().memory.data(&self.store);
        let start = ptr as usize;
        let tail = data.get(start..).ok_or_else(|| {
            SolcError::Message("solc wasm returned a pointer outside its memory".into())
        })?;
        let len = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        String::from_utf8(tail[..len].to_vec())
            .map_err(|_| SolcError::Message("solc wasm returned output that is not UTF-8".into()))
    }
}

fn trap(err: wasmtime::Error) -> SolcError {
    SolcError::Message(format!("solc (wasm) failed: {err}"))
}

type HostFn =
    Box<dyn Fn(Caller<'_, HostState>, &[Val], &mut [Val]) -> wasmtime::Result<()> + Send + Sync>;

fn exports_of(caller: &Caller<'_, HostState>) -> Arc<Exports> {
    caller
        .data()
        .exports
        .clone()
        .expect("exports are set before solc runs")
}

fn arg(params: &[Val], i: usize) -> i32 {
    params.get(i).and_then(Val::i32).unwrap_or(0)
}

fn set_i32(results: &mut [Val], value: i32) {
    if let Some(slot) = results.first_mut() {
        *slot = Val::I32(value);
    }
}

fn read_u32(memory: &Memory, caller: &Caller<'_, HostState>, addr: u32) -> u32 {
    let data = memory.data(caller);
    let a = addr as usize;
    data.get(a..a + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .unwrap_or(0)
}

fn write_u32(memory: &Memory, caller: &mut Caller<'_, HostState>, addr: u32, value: u32) {
    let data = memory.data_mut(caller);
    let a = addr as usize;
    if let Some(slot) = data.get_mut(a..a + 4) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
}

fn read_u8(memory: &Memory, caller: &Caller<'_, HostState>, addr: u32) -> u8 {
    memory.data(caller).get(addr as usize).copied().unwrap_or(0)
}

fn write_u8(memory: &Memory, caller: &mut Caller<'_, HostState>, addr: u32, value: u8) {
    if let Some(slot) = memory.data_mut(caller).get_mut(addr as usize) {
        *slot = value;
    }
}

/// Field offsets of Emscripten's `ExceptionInfo` header (excPtr - 24).
mod exception_info {
    pub(super) const REFCOUNT: u32 = 0;
    pub(super) const TYPE: u32 = 4;
    pub(super) const DESTRUCTOR: u32 = 8;
    pub(super) const CAUGHT: u32 = 12;
    pub(super) const RETHROWN: u32 = 13;
    pub(super) const ADJUSTED_PTR: u32 = 16;
}

/// The Rust implementation of one of the glue's JavaScript functions.
fn host_function(js_name: &str, ty: &wasmtime::FuncType) -> HostFn {
    let result_types: Vec<ValType> = ty.results().collect();
    use exception_info as info;
    if let Some(signature) = js_name.strip_prefix("invoke_") {
        return invoke(signature.to_string(), result_types);
    }
    if js_name.starts_with("___cxa_find_matching_catch") {
        return Box::new(|mut caller, params, results| {
            let ex = exports_of(&caller);
            let thrown = caller.data().exception_last;
            if thrown == 0 {
                caller.data_mut().temp_ret0 = 0;
                set_i32(results, 0);
                return Ok(());
            }
            let header = thrown - EXCEPTION_HEADER_SIZE;
            write_u32(&ex.memory, &mut caller, header + info::ADJUSTED_PTR, thrown);
            let thrown_type = read_u32(&ex.memory, &caller, header + info::TYPE);
            if thrown_type == 0 {
                caller.data_mut().temp_ret0 = 0;
                set_i32(results, thrown as i32);
                return Ok(());
            }
            for caught_type in params.iter().filter_map(Val::i32) {
                if caught_type == 0 || caught_type as u32 == thrown_type {
                    break;
                }
                let can = ex.cxa_can_catch.call(
                    &mut caller,
                    (
                        caught_type,
                        thrown_type as i32,
                        (header + info::ADJUSTED_PTR) as i32,
                    ),
                )?;
                if can != 0 {
                    caller.data_mut().temp_ret0 = caught_type;
                    set_i32(results, thrown as i32);
                    return Ok(());
                }
            }
            caller.data_mut().temp_ret0 = thrown_type as i32;
            set_i32(results, thrown as i32);
            Ok(())
        });
    }
    match js_name {
        "___cxa_allocate_exception" => Box::new(|mut caller, params, results| {
            let ex = exports_of(&caller);
            let ptr = ex
                .malloc
                .call(&mut caller, arg(params, 0) + EXCEPTION_HEADER_SIZE as i32)?;
            set_i32(results, ptr + EXCEPTION_HEADER_SIZE as i32);
            Ok(())
        }),
        "___cxa_free_exception" => Box::new(|mut caller, params, _| {
            let ex = exports_of(&caller);
            ex.free
                .call(&mut caller, arg(params, 0) - EXCEPTION_HEADER_SIZE as i32)
        }),
        "___cxa_throw" => Box::new(|mut caller, params, _| {
            let ex = exports_of(&caller);
            let ptr = arg(params, 0) as u32;
            let header = ptr - EXCEPTION_HEADER_SIZE;
            write_u32(&ex.memory, &mut caller, header + info::ADJUSTED_PTR, 0);
            write_u32(
                &ex.memory,
                &mut caller,
                header + info::TYPE,
                arg(params, 1) as u32,
            );
            write_u32(
                &ex.memory,
                &mut caller,
                header + info::DESTRUCTOR,
                arg(params, 2) as u32,
            );
            write_u32(&ex.memory, &mut caller, header + info::REFCOUNT, 0);
            write_u8(&ex.memory, &mut caller, header + info::CAUGHT, 0);
            write_u8(&ex.memory, &mut caller, header + info::RETHROWN, 0);
            let state = caller.data_mut();
            state.exception_last = ptr;
            state.uncaught_exceptions += 1;
            Err(wasmtime::Error::new(CppException(ptr)))
        }),
        "___cxa_begin_catch" => Box::new(|mut caller, params, results| {
            let ex = exports_of(&caller);
            let ptr = arg(params, 0) as u32;
            let header = ptr - EXCEPTION_HEADER_SIZE;
            if read_u8(&ex.memory, &caller, header + info::CAUGHT) == 0 {
                write_u8(&ex.memory, &mut caller, header + info::CAUGHT, 1);
                caller.data_mut().uncaught_exceptions -= 1;
            }
            write_u8(&ex.memory, &mut caller, header + info::RETHROWN, 0);
            caller.data_mut().exceptions_caught.push(ptr);
            let refs = read_u32(&ex.memory, &caller, header + info::REFCOUNT);
            write_u32(
                &ex.memory,
                &mut caller,
                header + info::REFCOUNT,
                refs.wrapping_add(1),
            );
            // get_exception_ptr
            let ty = read_u32(&ex.memory, &caller, header + info::TYPE) as i32;
            let is_pointer = ex.cxa_is_pointer_type.call(&mut caller, ty)?;
            let value = if is_pointer != 0 {
                read_u32(&ex.memory, &caller, ptr)
            } else {
                match read_u32(&ex.memory, &caller, header + info::ADJUSTED_PTR) {
                    0 => ptr,
                    adjusted => adjusted,
                }
            };
            set_i32(results, value as i32);
            Ok(())
        }),
        "___cxa_end_catch" => Box::new(|mut caller, _, _| {
            let ex = exports_of(&caller);
            ex.set_threw.call(&mut caller, (0, 0))?;
            let Some(ptr) = caller.data_mut().exceptions_caught.pop() else {
                return Err(wasmtime::Error::msg(
                    "solc wasm: __cxa_end_catch with no exception caught",
                ));
            };
            release_exception(&mut caller, &ex, ptr)?;
            caller.data_mut().exception_last = 0;
            Ok(())
        }),
        "___cxa_rethrow" => Box::new(|mut caller, _, _| {
            let ex = exports_of(&caller);
            let Some(ptr) = caller.data_mut().exceptions_caught.pop() else {
                return Err(wasmtime::Error::msg("solc wasm: no exception to rethrow"));
            };
            let header = ptr - EXCEPTION_HEADER_SIZE;
            if read_u8(&ex.memory, &caller, header + info::RETHROWN) == 0 {
                caller.data_mut().exceptions_caught.push(ptr);
                write_u8(&ex.memory, &mut caller, header + info::RETHROWN, 1);
                write_u8(&ex.memory, &mut caller, header + info::CAUGHT, 0);
                caller.data_mut().uncaught_exceptions += 1;
            }
            caller.data_mut().exception_last = ptr;
            Err(wasmtime::Error::new(CppException(ptr)))
        }),
        "___resumeException" => Box::new(|mut caller, params, _| {
            let ptr = arg(params, 0) as u32;
            if caller.data().exception_last == 0 {
                caller.data_mut().exception_last = ptr;
            }
            Err(wasmtime::Error::new(CppException(ptr)))
        }),
        "___cxa_uncaught_exceptions" => Box::new(|caller, _, results| {
            set_i32(results, caller.data().uncaught_exceptions);
            Ok(())
        }),
        "_llvm_eh_typeid_for" => Box::new(|_, params, results| {
            set_i32(results, arg(params, 0));
            Ok(())
        }),
        "_getTempRet0" | "getTempRet0" => Box::new(|caller, _, results| {
            set_i32(results, caller.data().temp_ret0);
            Ok(())
        }),
        "_setTempRet0" | "setTempRet0" => Box::new(|mut caller, params, _| {
            caller.data_mut().temp_ret0 = arg(params, 0);
            Ok(())
        }),
        "_emscripten_resize_heap" => Box::new(|mut caller, params, results| {
            let ex = exports_of(&caller);
            let requested = arg(params, 0) as u32 as u64;
            let current = ex.memory.data_size(&caller) as u64;
            if requested > MAX_HEAP_BYTES {
                set_i32(results, 0);
                return Ok(());
            }
            // Grow geometrically, as the glue does, to amortise copies.
            let target = requested.max(current + current / 5).min(MAX_HEAP_BYTES);
            let pages = target
                .div_ceil(WASM_PAGE)
                .saturating_sub(current / WASM_PAGE);
            let grown = ex.memory.grow(&mut caller, pages).is_ok();
            set_i32(results, grown as i32);
            Ok(())
        }),
        "_emscripten_memcpy_big" => Box::new(|caller, params, _| {
            let ex = exports_of(&caller);
            let (dest, src, len) = (
                arg(params, 0) as usize,
                arg(params, 1) as usize,
                arg(params, 2) as usize,
            );
            let mut caller = caller;
            let data = ex.memory.data_mut(&mut caller);
            if src + len <= data.len() && dest + len <= data.len() {
                data.copy_within(src..src + len, dest);
                Ok(())
            } else {
                Err(wasmtime::Error::msg("solc wasm: memcpy out of bounds"))
            }
        }),
        "__emscripten_date_now" => Box::new(|_, _, results| {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0);
            if let Some(slot) = results.first_mut() {
                *slot = Val::F64(ms.to_bits());
            }
            Ok(())
        }),
        "_emscripten_get_now" => Box::new(|caller, _, results| {
            let ms = caller
                .data()
                .started
                .map(|t| t.elapsed().as_secs_f64() * 1000.0)
                .unwrap_or(0.0);
            if let Some(slot) = results.first_mut() {
                *slot = Val::F64(ms.to_bits());
            }
            Ok(())
        }),
        "__emscripten_get_now_is_monotonic" => Box::new(|_, _, results| {
            set_i32(results, 1);
            Ok(())
        }),
        "_environ_sizes_get" => Box::new(|mut caller, params, results| {
            let ex = exports_of(&caller);
            write_u32(&ex.memory, &mut caller, arg(params, 0) as u32, 0);
            write_u32(&ex.memory, &mut caller, arg(params, 1) as u32, 0);
            set_i32(results, 0);
            Ok(())
        }),
        "_fd_write" => Box::new(|mut caller, params, results| {
            let ex = exports_of(&caller);
            let (iov, count, pnum) = (
                arg(params, 1) as u32,
                arg(params, 2) as u32,
                arg(params, 3) as u32,
            );
            let mut written = 0u32;
            for i in 0..count {
                let base = read_u32(&ex.memory, &caller, iov + i * 8);
                let len = read_u32(&ex.memory, &caller, iov + i * 8 + 4);
                let bytes = ex
                    .memory
                    .data(&caller)
                    .get(base as usize..(base + len) as usize)
                    .map(<[u8]>::to_vec);
                if let Some(bytes) = bytes {
                    caller.data_mut().console.extend_from_slice(&bytes);
                }
                written += len;
            }
            write_u32(&ex.memory, &mut caller, pnum, written);
            set_i32(results, 0);
            Ok(())
        }),
        // No files: solc reads sources from the standard-JSON input only.
        "_fd_close" | "_fd_read" => Box::new(|_, _, results| {
            set_i32(results, 52); // ENOSYS
            Ok(())
        }),
        "_fd_seek" => Box::new(|_, _, results| {
            set_i32(results, 70); // ESPIPE
            Ok(())
        }),
        "___syscall_openat" | "___syscall_stat64" | "___syscall_faccessat" => {
            Box::new(|_, _, results| {
                set_i32(results, -44); // -ENOENT
                Ok(())
            })
        }
        "___call_sighandler" => Box::new(|mut caller, params, _| {
            let ex = exports_of(&caller);
            let func = table_func(&mut caller, &ex.table, arg(params, 0))?;
            func.call(&mut caller, &[Val::I32(arg(params, 1))], &mut [])
        }),
        "_abort" | "abort" | "_exit" | "_proc_exit" | "___assert_fail" => {
            let name = js_name.to_string();
            Box::new(move |caller, _, _| {
                let console = String::from_utf8_lossy(&caller.data().console).into_owned();
                Err(wasmtime::Error::msg(format!(
                    "solc aborted ({name}){}",
                    if console.is_empty() {
                        String::new()
                    } else {
                        format!(": {console}")
                    }
                )))
            })
        }
        // Locale, environment and ioctl/fcntl: report success with nothing.
        _ => Box::new(move |_, _, results| {
            for (slot, ty) in results.iter_mut().zip(&result_types) {
                *slot = zero_of(ty);
            }
            Ok(())
        }),
    }
}

fn release_exception(
    caller: &mut Caller<'_, HostState>,
    ex: &Exports,
    ptr: u32,
) -> wasmtime::Result<()> {
    use exception_info as info;
    let header = ptr - EXCEPTION_HEADER_SIZE;
    let refs = read_u32(&ex.memory, caller, header + info::REFCOUNT);
    write_u32(
        &ex.memory,
        caller,
        header + info::REFCOUNT,
        refs.wrapping_sub(1),
    );
    if refs == 1 && read_u8(&ex.memory, caller, header + info::RETHROWN) == 0 {
        let destructor = read_u32(&ex.memory, caller, header + info::DESTRUCTOR);
        if destructor != 0 {
            let func = table_func(caller, &ex.table, destructor as i32)?;
            let mut out = vec![Val::I32(0); func.ty(&*caller).results().len()];
            func.call(&mut *caller, &[Val::I32(ptr as i32)], &mut out)?;
        }
        ex.free.call(&mut *caller, header as i32)?;
    }
    Ok(())
}

fn table_func(
    caller: &mut Caller<'_, HostState>,
    table: &Table,
    index: i32,
) -> wasmtime::Result<Func> {
    let slot = index as u32 as usize;
    if let Some(Some(func)) = caller.data().table_cache.get(slot) {
        return Ok(*func);
    }
    let func = table
        .get(&mut *caller, slot as u64)
        .and_then(|r| r.as_func().flatten().cloned())
        .ok_or_else(|| {
            wasmtime::Error::msg(format!("solc wasm: no function at table index {index}"))
        })?;
    let cache = &mut caller.data_mut().table_cache;
    if cache.len() <= slot {
        cache.resize(slot + 1, None);
    }
    cache[slot] = Some(func);
    Ok(func)
}

/// `invoke_<sig>(index, args…)`: calls a table function inside a C++ `try`.
/// `sig` is Emscripten's: return type then parameter types, `v` void, `i`
/// i32, `j` i64 (split in two i32 halves at this boundary), `f` f32, `d` f64.
fn invoke(signature: String, result_types: Vec<ValType>) -> HostFn {
    Box::new(move |mut caller, params, results| {
        let ex = exports_of(&caller);
        let mut chars = signature.chars();
        let ret = chars.next().unwrap_or('v');
        let mut args = Vec::with_capacity(params.len());
        let mut rest = params.iter().skip(1);
        for kind in chars {
            let val = rest.next().cloned().unwrap_or(Val::I32(0));
            args.push(match kind {
                'j' => {
                    let low = val.i32().unwrap_or(0) as u32 as u64;
                    let high = rest.next().and_then(Val::i32).unwrap_or(0) as u32 as u64;
                    Val::I64((high << 32 | low) as i64)
                }
                _ => val,
            });
        }
        let stack = ex.stack_pointer.get(&mut caller);
        let func = table_func(&mut caller, &ex.table, arg(params, 0))?;
        let mut out = match ret {
            'v' => vec![],
            'j' => vec![Val::I64(0)],
            'f' => vec![Val::F32(0)],
            'd' => vec![Val::F64(0)],
            _ => vec![Val::I32(0)],
        };
        match func.call(&mut caller, &args, &mut out) {
            Ok(()) => {
                if let (Some(slot), Some(value)) = (results.first_mut(), out.first()) {
                    *slot = match value {
                        Val::I64(v) => {
                            caller.data_mut().temp_ret0 = (*v >> 32) as i32;
                            Val::I32(*v as i32)
                        }
                        other => *other,
                    };
                }
                Ok(())
            }
            Err(err) if err.downcast_ref::<CppException>().is_some() => {
                ex.stack_pointer.set(&mut caller, stack)?;
                ex.set_threw.call(&mut caller, (1, 0))?;
                caller.data_mut().exceptions_unwound += 1;
                for (slot, ty) in results.iter_mut().zip(&result_types) {
                    *slot = zero_of(ty);
                }
                Ok(())
            }
            Err(err) => Err(err),
        }
    })
}

fn zero_of(ty: &ValType) -> Val {
    match ty {
        ValType::I64 => Val::I64(0),
        ValType::F32 => Val::F32(0),
        ValType::F64 => Val::F64(0),
        _ => Val::I32(0),
    }
}

/// The `invoke_*` trampolines run tens of thousands of times per compile
/// (every call inside a C++ `try`), so the common all-i32 signatures get a
/// typed host function: no `Val` boxing and no per-call signature lookup,
/// which makes a small compile several times faster than the generic path.
macro_rules! typed_invoke {
    ($linker:expr, $module:expr, $name:expr, $exports:expr, $ret:ty, ($($arg:ident),*)) => {{
        type Target = TypedFunc<($(typed_invoke!(@i32 $arg),)*), $ret>;
        let exports = Arc::clone($exports);
        // One slot per table entry, sized when first called (the table is
        // complete by then); each entry is looked up and type-checked once,
        // then called by reference.
        let cache: OnceLock<Box<[OnceLock<Target>]>> = OnceLock::new();
        $linker.func_wrap($module, $name, move |mut caller: Caller<'_, HostState>, index: i32, $($arg: i32),*| -> wasmtime::Result<$ret> {
            let ex = exports.get().expect("exports are set before solc runs");
            let slots = cache.get_or_init(|| {
                let size = ex.table.size(&caller) as usize;
                (0..size).map(|_| OnceLock::new()).collect()
            });
            let slot = index as u32 as usize;
            let uncached;
            let target: &Target = match slots.get(slot).and_then(OnceLock::get) {
                Some(target) => target,
                None => {
                    let typed: Target = table_func(&mut caller, &ex.table, index)?.typed(&caller)?;
                    match slots.get(slot) {
                        Some(cell) => cell.get_or_init(|| typed),
                        None => {
                            uncached = typed;
                            &uncached
                        }
                    }
                }
            };
            // Emscripten's glue: `sp = stackSave(); try { … } catch { stackRestore(sp); setThrew(1, 0) }`.
            let stack = ex.stack_pointer.get(&mut caller);
            match target.call(&mut caller, ($($arg,)*)) {
                Ok(value) => Ok(value),
                Err(err) if err.downcast_ref::<CppException>().is_some() => {
                    ex.stack_pointer.set(&mut caller, stack)?;
                    ex.set_threw.call(&mut caller, (1, 0))?;
                    caller.data_mut().exceptions_unwound += 1;
                    Ok(Default::default())
                }
                Err(err) => Err(err),
            }
        }).map(|_| true)
    }};
    (@i32 $x:ident) => { i32 };
}

/// Links a typed `invoke_<signature>` when the signature is a common one;
/// `Ok(false)` leaves it to the generic implementation.
fn link_typed_invoke(
    linker: &mut Linker<HostState>,
    module: &str,
    name: &str,
    signature: &str,
    exports: &Arc<OnceLock<Arc<Exports>>>,
) -> wasmtime::Result<bool> {
    match signature {
        "v" => typed_invoke!(linker, module, name, exports, (), ()),
        "vi" => typed_invoke!(linker, module, name, exports, (), (a)),
        "vii" => typed_invoke!(linker, module, name, exports, (), (a, b)),
        "viii" => typed_invoke!(linker, module, name, exports, (), (a, b, c)),
        "viiii" => typed_invoke!(linker, module, name, exports, (), (a, b, c, d)),
        "viiiii" => typed_invoke!(linker, module, name, exports, (), (a, b, c, d, e)),
        "viiiiii" => typed_invoke!(linker, module, name, exports, (), (a, b, c, d, e, f)),
        "viiiiiii" => typed_invoke!(linker, module, name, exports, (), (a, b, c, d, e, f, g)),
        "i" => typed_invoke!(linker, module, name, exports, i32, ()),
        "ii" => typed_invoke!(linker, module, name, exports, i32, (a)),
        "iii" => typed_invoke!(linker, module, name, exports, i32, (a, b)),
        "iiii" => typed_invoke!(linker, module, name, exports, i32, (a, b, c)),
        "iiiii" => typed_invoke!(linker, module, name, exports, i32, (a, b, c, d)),
        "iiiiii" => typed_invoke!(linker, module, name, exports, i32, (a, b, c, d, e)),
        "iiiiiii" => typed_invoke!(linker, module, name, exports, i32, (a, b, c, d, e, f)),
        "iiiiiiii" => typed_invoke!(linker, module, name, exports, i32, (a, b, c, d, e, f, g)),
        "viiiiiiii" => typed_invoke!(linker, module, name, exports, (), (a, b, c, d, e, f, g, h)),
        "viiiiiiiii" => typed_invoke!(
            linker,
            module,
            name,
            exports,
            (),
            (a, b, c, d, e, f, g, h, i)
        ),
        "viiiiiiiiii" => {
            typed_invoke!(
                linker,
                module,
                name,
                exports,
                (),
                (a, b, c, d, e, f, g, h, i, j)
            )
        }
        "iiiiiiiii" => typed_invoke!(linker, module, name, exports, i32, (a, b, c, d, e, f, g, h)),
        "iiiiiiiiii" => typed_invoke!(
            linker,
            module,
            name,
            exports,
            i32,
            (a, b, c, d, e, f, g, h, i)
        ),
        "iiiiiiiiiii" => {
            typed_invoke!(
                linker,
                module,
                name,
                exports,
                i32,
                (a, b, c, d, e, f, g, h, i, j)
            )
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, ConstExpr, ExportKind, ExportSection, Function, FunctionSection,
        GlobalSection, GlobalType, Instruction, Module as Encoded, TypeSection, ValType as Ty,
    };

    /// A module shaped like Emscripten's: a private mutable stack pointer
    /// (global 1, after another global) read by an exported `stackSave`.
    fn emscripten_like() -> Vec<u8> {
        let mut module = Encoded::new();
        let mut types = TypeSection::new();
        types.ty().function([], [Ty::I32]);
        module.section(&types);
        let mut functions = FunctionSection::new();
        functions.function(0);
        module.section(&functions);
        let mut globals = GlobalSection::new();
        for initial in [7, 65536] {
            globals.global(
                GlobalType {
                    val_type: Ty::I32,
                    mutable: true,
                    shared: false,
                },
                &ConstExpr::i32_const(initial),
            );
        }
        module.section(&globals);
        let mut exports = ExportSection::new();
        exports.export("Rb", ExportKind::Func, 0);
        module.section(&exports);
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instruction(&Instruction::GlobalGet(1));
        body.instruction(&Instruction::End);
        code.function(&body);
        module.section(&code);
        module.finish()
    }

    #[test]
    fn prepared_module_exports_the_stack_pointer_and_keeps_the_rest() {
        let prepared = prepare_module(&emscripten_like(), "Rb").unwrap();
        let engine = Engine::default();
        let module = Module::new(&engine, &prepared).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let stack_pointer = instance
            .get_global(&mut store, STACK_POINTER_EXPORT)
            .expect("exported");
        assert_eq!(stack_pointer.get(&mut store).i32(), Some(65536));
        stack_pointer.set(&mut store, Val::I32(4096)).unwrap();
        let stack_save = instance
            .get_typed_func::<(), i32>(&mut store, "Rb")
            .unwrap();
        assert_eq!(stack_save.call(&mut store, ()).unwrap(), 4096);
    }

    #[test]
    fn a_stack_save_that_is_not_a_global_read_is_refused() {
        let err = prepare_module(&emscripten_like(), "missing").unwrap_err();
        assert!(err.to_string().contains("stack pointer"), "{err}");
    }
}
