# fhs for Nix, without nixpkgs: a derivation whose builder is the static fhs
# launcher, running a command in a view whose /usr is an overlay of layers
# that are store paths. Unpatched software (a Debian shell, say) then runs as
# the builder, inside Nix's sandbox. See docs/NIX.md.
#
#   let fhs = import ./nix { };
#   in fhs.fhsRun {
#     name = "hello";
#     manifest = ./manifest.bin;     # compiled by test/helpers/nix.ts
#     layers = [ "/nix/store/...-dash" "/nix/store/...-libc6" ];
#     command = [ "sh" "-c" "echo hi > $out" ];
#   }
#
# The launcher and the policy are the prebuilt ones from build/ (`npm run
# build`): building the launcher itself needs a C compiler in the store.
{ launcher ? builtins.path { path = ../build/fhs-launcher-static; name = "fhs-launcher"; }
, policy ? builtins.path { path = ../build/policy.wasm; name = "fhs-policy.wasm"; }
, system ? builtins.currentSystem
}:

let
  # A store path given as a string gets the context that makes it an input of
  # the derivation (so the sandbox holds it); a path literal is imported.
  storeInput = name: p:
    if builtins.isPath p then builtins.path { path = p; inherit name; }
    else builtins.storePath p;
in
rec {
  inherit launcher policy;

  # COMMAND (looked up by PATH inside the view) runs as `fhs-launcher env
  # MANIFEST -- COMMAND...`: the launcher reads the compiled manifest, asks the
  # policy for the view's plan and execs COMMAND in the view, with no process
  # of its own left over. $out and the sandbox's /build are host directories
  # of the builder, so the view binds them like any other.
  #
  # The manifest names its layers and the policy by their store paths; Nix
  # cannot see references inside a file imported as a source, so the same
  # layers are given again here, which makes them inputs of the derivation.
  # The manifest's policy must be `policy` above.
  fhsRun = { name, manifest, layers, command, env ? { } }:
    derivation ({
      inherit name system;
      builder = launcher;
      args = [ "env" (storeInput "fhs-manifest.bin" manifest) "--" ] ++ command;
      fhsLayers = map (storeInput "fhs-layer") layers;
      fhsPolicy = policy;
      PATH = "/usr/bin:/usr/sbin";
    } // env);

  # The same, under the name the rest of the project uses for a derivation
  # built in an fhs view.
  mkFhsEnvDerivation = fhsRun;
}
