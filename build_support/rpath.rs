// Shared by the build scripts of the crates that link libtorch (root, app, server): torch-sys
// sets no rpath, so binaries and test executables would not start without LD_LIBRARY_PATH.
// Embedding the library directory makes them run as built. WASM builds link no libtorch.
// INSECTID_CUDA=1 also links libtorch_cuda: nothing calls it by name, so the linker would drop
// it, and without it loaded libtorch sees no GPU (scripts/gpu-bench.sh builds this way).
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=INSECTID_TORCH_LIB");
    println!("cargo:rerun-if-env-changed=INSECTID_CUDA");
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("wasm32")) {
        return;
    }
    let lib = std::env::var("INSECTID_TORCH_LIB")
        .ok()
        .or_else(|| std::env::var("LIBTORCH").ok().map(|t| format!("{t}/lib")));
    if let Some(dir) = lib {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        let cuda = format!("{dir}/libtorch_cuda.so");
        if std::env::var("INSECTID_CUDA").is_ok_and(|v| v == "1") && std::path::Path::new(&cuda).is_file() {
            println!("cargo:rustc-link-arg=-Wl,--no-as-needed,{cuda},--as-needed");
        }
    }
}
