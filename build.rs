//! Compiles the plugin protocol definitions with protox, a pure-Rust protobuf compiler, so the
//! build never needs a system `protoc`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/tfplugin5.proto", "proto/plugin/go_plugin.proto"];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
