{
  description = "fhs: run unpatched Linux software on Nix, each program in a view whose /usr is an overlay of its layers";

  # Nothing beyond nixpkgs.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system:
        let pkgs = nixpkgs.legacyPackages.${system};
        in f { inherit system pkgs; fhs = import ./nix/pkgs.nix { inherit pkgs; }; });
    in
    {
      # fhs.lib.${system}.mkFhsPackage { ... }, mkFhsEnv, debLayer, fhsRun, mkManifest.
      lib = forAll ({ fhs, ... }: {
        inherit (fhs) mkFhsPackage mkFhsEnv debLayer fhsRun runFhs mkManifest launcher policy;
      });

      packages = forAll ({ fhs, ... }: {
        default = fhs.package;
        fhs = fhs.package;
      });

      # Working on fhs itself: Node, a C toolchain, cargo (wasm3's source).
      devShells = forAll ({ pkgs, ... }: {
        default = pkgs.mkShell { packages = [ pkgs.nodejs pkgs.gnumake pkgs.gcc pkgs.cargo pkgs.glibc.static ]; };
      });

      # GNU hello from its release tarball, built in fhs's build view with
      # nixpkgs' unwrapped toolchain as layers (Nix layout), and wrapped.
      checks = forAll ({ pkgs, fhs, ... }: {
        hello = fhs.mkFhsPackage {
          pname = "hello";
          inherit (pkgs.hello) version src;
          deps = [ pkgs.gcc-unwrapped pkgs.binutils-unwrapped pkgs.glibc pkgs.glibc.dev pkgs.gnumake pkgs.coreutils pkgs.bash pkgs.gnused pkgs.gnugrep pkgs.gawk pkgs.gnutar pkgs.gzip pkgs.diffutils pkgs.findutils ];
          runtimeDeps = [ pkgs.glibc ];
          buildCommands = "./configure --prefix=/usr && make && make install";
        };
      });
    };
}
