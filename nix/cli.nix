# The fhs CLI as `npm run build` left it in a checkout, imported into the
# store: dist/, the built launcher, policy and config, policies/, and the
# runtime node_modules that package-lock.json lists (dev dependencies left
# out). The policy compiler (assemblyscript and binaryen, about 100 MB) is
# left out too: Nix builds wrap and build, they never compile a policy.
{ src }:

let
  lock = builtins.fromJSON (builtins.readFile (src + "/package-lock.json"));
  compiler = [ "node_modules/assemblyscript" "node_modules/binaryen" "node_modules/long" ];
  runtimeModules = builtins.filter (p: builtins.substring 0 13 p == "node_modules/" && !(lock.packages.${p}.dev or false) && !(builtins.elem p compiler))
    (builtins.attrNames lock.packages);
  root = toString src;
  keep = path: type:
    let
      rel = builtins.substring (builtins.stringLength root + 1) (-1) (toString path);
      under = dir: rel == dir || builtins.substring 0 (builtins.stringLength dir + 1) rel == dir + "/";
      # A directory above a kept one (node_modules, node_modules/@scope).
      above = dir: builtins.substring 0 (builtins.stringLength rel + 1) dir == rel + "/";
    in
    builtins.elem rel [ "package.json" "build" "build/fhs-launcher-static" "build/policy.wasm" "build/config.bin" ]
    || under "dist" || under "policies"
    || builtins.any (m: under m || above m) runtimeModules;
in
builtins.path { path = src; name = "fhs-cli"; filter = keep; }
