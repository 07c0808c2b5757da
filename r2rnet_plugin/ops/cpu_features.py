"""What this CPU can do natively."""
import torch


def cpu_supports_bf16():
    """Whether this CPU has native bfloat16 arithmetic (AVX-512 BF16 or AMX). oneDNN also runs
    bfloat16 on plain AVX-512, emulated and slower than float32: that does not count."""
    checks = [getattr(torch.cpu, name, None) for name in ('_is_avx512_bf16_supported', '_is_amx_tile_supported')]
    try:
        return any(check() for check in checks if check is not None)
    except RuntimeError:
        return False
