# fhs for Nix, without nixpkgs. Every derivation here has the static fhs
# launcher as its builder: it runs a command in a view whose /usr is an
# overlay of layers that are store paths, so unpatched software (Debian's
# shell, compiler, Node) runs as the builder, inside Nix's sandbox. See
# docs/NIX.md.
#
#   fhs = import ./nix { node = [ <layers holding usr/bin/node> ]; };
#   fhs.mkFhsPackage {
#     pname = "hello"; version = "2.12.1"; src = ./hello-2.12.1.tar.gz;
#     deps = [ <toolchain layers> ];  runtimeDeps = [ <libc layers> ];
#     buildCommands = "./configure --prefix=/usr && make && make install";
#   }
#
# The launcher, the policy and the CLI are the ones `npm run build` made in
# this checkout, imported into the store; nix/pkgs.nix builds them from
# nixpkgs instead. A layer is a store path: a derivation, a store path
# string, or a path literal (imported).
{ launcher ? builtins.path { path = ../build/fhs-launcher-static; name = "fhs-launcher"; }
, policy ? builtins.path { path = ../build/policy.wasm; name = "fhs-policy.wasm"; }
  # The default policy config, compiled to records (`fhs policy config`).
, config ? builtins.path { path = ../build/config.bin; name = "fhs-config.bin"; }
  # The CLI as `npm run build` left it, with its runtime node_modules only.
, cli ? import ./cli.nix { src = ../.; }
  # The layers of the Node that runs the CLI in builds (usr/bin/node, or a
  # Nix-layout bin/node): Debian's nodejs and its libraries, each a layer,
  # or nixpkgs' nodejs. Needed by mkFhsPackage, mkFhsEnv and debLayer only.
, node ? [ ]
, system ? builtins.currentSystem
}:

let
  # A store path as a derivation input: a store path string gets the
  # context that puts it in the sandbox, a path literal is imported (under
  # its own name: `fhs build --src` goes by a tarball's extension), a
  # derivation is its output path.
  storeInput = p:
    if builtins.isString p && !(builtins.hasContext p) then builtins.storePath p
    else "${p}";
  layerPath = storeInput;

  # The derivation attributes every builder here shares: the launcher runs
  # `env MANIFEST -- COMMAND`, COMMAND looked up by PATH in the view.
  inView = { name, manifest, command, env ? { } }:
    derivation ({
      inherit name system;
      builder = launcher;
      args = [ "env" manifest "--" ] ++ command;
      PATH = "/usr/bin:/usr/sbin";
    } // env);

  defaultPolicy = policy;
  defaultConfig = config;

  # By path, not by PATH: mkFhsEnv's shell derivation has a PATH of its own.
  cliCommand = args: [ "/usr/bin/node" "${cli}/dist/cli.js" ] ++ args;
in
rec {
  inherit launcher policy config cli node;

  # The compiled manifest of a view of `layers`, written in the sandbox by
  # the launcher itself (`fhs-launcher manifest`): a Nix string cannot hold
  # the records' NUL bytes.
  mkManifest = { name, layers, policy ? defaultPolicy, config ? defaultConfig }:
    derivation {
      name = "${name}-manifest.bin";
      inherit system;
      builder = launcher;
      args = [ "manifest" (builtins.placeholder "out") name "${policy}" "${config}" ] ++ map layerPath layers;
    };

  # COMMAND in a launch view of `layers`, as the builder: `fhs-launcher env`,
  # the launch `fhs env` uses. $out and the sandbox's /build are host
  # directories of the builder, so the view binds them like any other.
  fhsRun = { name, layers, command, env ? { } }:
    inView { inherit name command env; manifest = mkManifest { inherit name layers; }; };

  # The view Node runs the CLI in: `node`'s layers alone; the CLI is a
  # directory Node reads, not a layer.
  nodeView =
    if node == [ ] then throw "fhs: this needs `node`, the layers of a Node >= 18: import ./nix { node = [ ... ]; }"
    else mkManifest { name = "fhs-node"; layers = node; };

  # The CLI (`fhs ARGS...`) as the builder, in the view of `node`.
  runFhs = { name, args, env ? { } }:
    inView { inherit name env; manifest = nodeView; command = cliCommand args; };

  # A layer of a .deb, imported in the sandbox (`fhs layer import --as $out`).
  debLayer = { src, name ? "deb-layer" }:
    runFhs {
      inherit name;
      args = [ "layer" "import" (storeInput src) "--as" (builtins.placeholder "out") ];
    };

  # A package built from source in the pure build view of `fhs build` (a
  # writable /usr over `deps` only), then wrapped by `fhs wrap` against
  # `runtimeDeps`. Both commands run in one builder (nix/mkfhspackage.mjs);
  # the output is $out/usr (wrappers in usr/bin), $out/.fhs (the programs,
  # the manifest naming the runtime layers by store path, ld.so.cache,
  # install-time state). Nix finds the runtime layers as references by
  # scanning $out, so they are the output's closure.
  mkFhsPackage =
    { pname
    , version
    , src
    , deps
    , runtimeDeps ? deps
    , buildCommands
    , policy ? null
    , config ? null
    , sourceDateEpoch ? 315532800
    , ...
    }@args:
    let
      extra = builtins.removeAttrs args [ "pname" "version" "src" "deps" "runtimeDeps" "buildCommands" "policy" "config" "sourceDateEpoch" ];
      opt = flag: v: if v == null then [ ] else [ flag "${v}" ];
      flags = l: builtins.concatMap (x: [ "--layer" (layerPath x) ]) l;
    in
    inView {
      name = "${pname}-${version}";
      manifest = nodeView;
      command = [ "/usr/bin/node" "${./mkfhspackage.mjs}" ];
      env = extra // {
        fhsCli = "${cli}/dist/cli.js";
        # Wrappers and manifests name this launcher (a store path), not the
        # CLI's copy: the output's closure holds the launcher, not the CLI.
        FHS_LAUNCHER = "${launcher}";
        fhsBuild = builtins.toJSON ([ "build" "--out" (builtins.placeholder "out") "--src" (storeInput src) "--source-date-epoch" (toString sourceDateEpoch) ]
          ++ flags deps ++ opt "--policy" policy ++ opt "--config" config ++ [ "--" "sh" "-c" buildCommands ]);
        fhsWrap = builtins.toJSON ([ "wrap" (builtins.placeholder "out") ] ++ flags runtimeDeps ++ opt "--policy" policy ++ opt "--config" config);
      };
    };

  # A dev environment: `nix-shell` runs its shell in the view of `packages`
  # (wrapped packages: each stands for its own layer list, its real programs
  # first, read by `fhs-launcher manifest` at build time) and `deps`; a
  # compiler from `packages` runs there as itself and sees the env's headers.
  # `deps` must hold bash. The result of nix-build is the view's compiled
  # manifest (`fhs-launcher env result -- COMMAND` runs in it). See
  # docs/NIX.md for how nix-shell is made to start the view's bash.
  mkFhsEnv = { name ? "fhs-env", deps, packages ? [ ], shellHook ? "" }:
    let
      # A wrapped package is expanded to its layer list by the launcher.
      layers = map layerPath (packages ++ deps);
      view = inView {
        name = "${name}-view";
        manifest = nodeView;
        command = [ "/usr/bin/node" "${./mkfhsenv.mjs}" ];
        env = {
          FHS_LAUNCHER = "${launcher}";
          fhsPolicy = "${defaultPolicy}";
          fhsConfig = "${defaultConfig}";
          fhsLayers = builtins.toJSON layers;
        };
      };
    in
    derivation {
      inherit name system shellHook;
      builder = launcher;
      args = [ "manifest" (builtins.placeholder "out") name "${defaultPolicy}" "${defaultConfig}" ] ++ layers;
      # nix-shell execs `bash` by this PATH when <nixpkgs> has no
      # bashInteractive (as without nixpkgs): the view's.
      PATH = "${view}/usr/bin";
      stdenv = view;
    };
}
