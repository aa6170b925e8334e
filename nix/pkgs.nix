# fhs built from source with nixpkgs: the CLI (npm dependencies from
# package-lock.json by importNpmLock, so no extra hash to keep), the
# launcher (static, with wasm3 from the same pinned crate as the npm build,
# not nixpkgs' wasm3) and the policy, then nix/default.nix's library on top,
# with nixpkgs' nodejs and tar as the view the CLI runs in. A nixpkgs
# package is a layer as it is (Nix layout): deps = [ pkgs.gnumake ... ].
{ pkgs ? import <nixpkgs> { } }:

let
  version = (builtins.fromJSON (builtins.readFile ../package.json)).version;

  # launcher/fetch-wasm3.sh pins the same crate by the same sha256.
  wasm3Crate = pkgs.fetchurl {
    name = "wasm3x-sys-0.2.1.tar.gz";
    url = "https://crates.io/api/v1/crates/wasm3x-sys/0.2.1/download";
    sha256 = "348492b8c2fb4902087770a26c3500e12b375e687a6d7f4155b7953a26ff8f7c";
  };

  src = builtins.path {
    path = ../.;
    name = "fhs-source";
    filter = path: type: !(builtins.elem (baseNameOf path) [ "node_modules" "dist" "build" ".deps" ".git" "result" ]);
  };

  fhs = pkgs.buildNpmPackage {
    pname = "fhs";
    inherit version src;
    npmDeps = pkgs.importNpmLock { npmRoot = src; };
    npmConfigHook = pkgs.importNpmLock.npmConfigHook;
    # The launcher's static link needs glibc's static archives.
    buildInputs = [ pkgs.glibc.static ];
    postPatch = ''
      mkdir -p launcher/.deps
      tar -xzf ${wasm3Crate} -C launcher/.deps
      touch launcher/.deps/wasm3x-sys-0.2.1/.verified
    '';
    # `npm run build` (the CLI, build/policy.wasm, build/config.bin, the launcher).
    npmBuildScript = "build";
    dontNpmPrune = false;
  };

  root = "${fhs}/lib/node_modules/fhs";
in
import ./default.nix {
  launcher = "${root}/build/fhs-launcher-static";
  policy = "${root}/build/policy.wasm";
  config = "${root}/build/config.bin";
  cli = root;
  node = [ pkgs.nodejs pkgs.gnutar pkgs.gzip pkgs.xz ];
  system = pkgs.stdenv.hostPlatform.system;
} // {
  inherit fhs wasm3Crate;
  # fhs as a command: `nix run`, `nix profile install`.
  package = fhs;
}
