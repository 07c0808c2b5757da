"""``train: mixed_precision``: which autocast dtype each choice gives on which device."""
import pytest
import torch

from r2rnet_plugin.models import mixed_precision
from r2rnet_plugin.models.mixed_precision import mixed_precision_dtype
from r2rnet_plugin.utils.option_checks import OptionError

CPU, CUDA = torch.device('cpu'), torch.device('cuda')


@pytest.fixture
def hardware(monkeypatch):
    """Pretend the CPU and the GPU do (or do not) have native bfloat16 arithmetic."""

    def set_native(cpu, gpu):
        monkeypatch.setattr(mixed_precision, 'cpu_supports_bf16', lambda: cpu)
        monkeypatch.setattr(
            torch.cuda, 'is_bf16_supported', lambda including_emulation=True: gpu or including_emulation)

    return set_native


@pytest.mark.parametrize('native', [True, False])
@pytest.mark.parametrize('device', [CPU, CUDA], ids=['cpu', 'cuda'])
def test_auto_is_bf16_exactly_where_the_device_has_native_bf16(hardware, device, native):
    hardware(cpu=native, gpu=native)
    expected = torch.bfloat16 if native else None
    assert mixed_precision_dtype({'mixed_precision': 'auto'}, device) is expected


@pytest.mark.parametrize('value', [None, False, 'fp32'])
def test_float32_when_left_out_or_asked_for(hardware, value):
    hardware(cpu=True, gpu=True)
    assert mixed_precision_dtype({'mixed_precision': value}, CPU) is None
    assert mixed_precision_dtype({}, CUDA) is None


def test_explicit_choices(hardware):
    hardware(cpu=False, gpu=False)
    assert mixed_precision_dtype({'mixed_precision': 'bf16'}, CPU) is torch.bfloat16  # allowed, with a warning
    assert mixed_precision_dtype({'mixed_precision': 'fp16'}, CUDA) is torch.float16
    with pytest.raises(OptionError, match='fp16 training needs CUDA'):
        mixed_precision_dtype({'mixed_precision': 'fp16'}, CPU)
    with pytest.raises(OptionError, match="must be one of fp32, auto, bf16, fp16; got 'atuo'"):
        mixed_precision_dtype({'mixed_precision': 'atuo'}, CPU)
