"""Old map formats, read and rewritten into BTF-defined maps libbpf 1.x accepts (pure: bytes in, bytes out).

- :mod:`.legacy_maps`: a ``maps`` section of fixed-size definitions (iproute2's ``struct bpf_elf_map``),
  read with its tool's rules;
- :mod:`.rewrite`: those definitions turned into ``.maps`` and ``.BTF``.
"""
