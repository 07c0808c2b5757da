"""R2RNet's perceptual loss: MSE between instance-normalised VGG16 relu(conv4_3) features.

The VGG16 weights come only from a local file (option ``vgg_path``); nothing is downloaded.
Two layouts are accepted (see :data:`LAYOUTS_HELP`). Each file is read once per process and
the frozen network is shared by every loss that uses it, one copy per device and dtype.
"""
import os
import threading
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils.registry import LOSS_REGISTRY
from r2rnet_plugin.utils.option_checks import check_weights
from r2rnet_plugin.utils.registration import register_as
from r2rnet_plugin.utils.safe_load import CheckpointError, load_checkpoint

# (name, in_channels, out_channels) of the convolutions up to conv4_3; 'pool' is a 2x2 max-pool.
VGG16_TO_CONV4_3 = (
    ('conv1_1', 3, 64),
    ('conv1_2', 64, 64),
    'pool',
    ('conv2_1', 64, 128),
    ('conv2_2', 128, 128),
    'pool',
    ('conv3_1', 128, 256),
    ('conv3_2', 256, 256),
    ('conv3_3', 256, 256),
    'pool',
    ('conv4_1', 256, 512),
    ('conv4_2', 512, 512),
    ('conv4_3', 512, 512),
)
CONV_NAMES = tuple(layer[0] for layer in VGG16_TO_CONV4_3 if layer != 'pool')
# Index of each of those convolutions in torchvision's ``vgg16().features``.
TORCHVISION_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21)

LAYOUTS_HELP = ("accepted layouts: (1) the R2RNet reference's 'vgg16.weight' (keys conv1_1.weight ... "
                "conv5_3.bias) or (2) torchvision's 'vgg16-*.pth' (keys features.0.weight ... "
                "features.28.bias, classifier.*); only conv1_1..conv4_3 are used")

_STATE_CACHE = {}  # (realpath, mtime_ns) -> CPU state dict of the conv1_1..conv4_3 network
_NETWORK_CACHE = {}  # (realpath, mtime_ns, device, dtype) -> frozen feature network
_LOCK = threading.Lock()


def build_vgg16_features():
    """VGG16 from conv1_1 to relu(conv4_3), layers named as in the reference (``conv1_1``...)."""
    layers, block, index = OrderedDict(), 1, 1
    for layer in VGG16_TO_CONV4_3:
        if layer == 'pool':
            layers[f'pool{block}'] = nn.MaxPool2d(kernel_size=2, stride=2)
            block, index = block + 1, 1
            continue
        name, in_ch, out_ch = layer
        layers[name] = nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1)
        layers[f'relu{block}_{index}'] = nn.ReLU(inplace=True)
        index += 1
    return nn.Sequential(layers)


def _layout_error(path, reason):
    return ValueError(f"option 'vgg_path': {path!r} {reason}; {LAYOUTS_HELP}")


def _select_conv_weights(raw, path):
    """Map either accepted layout onto the ``conv1_1`` ... ``conv4_3`` keys."""
    if not isinstance(raw, dict):
        raise _layout_error(path, f'holds a {type(raw).__name__}, not a state dict')
    sources = {
        'reference': {
            name: name
            for name in CONV_NAMES
        },
        'torchvision': {
            name: f'features.{i}'
            for name, i in zip(CONV_NAMES, TORCHVISION_INDICES)
        },
    }
    for prefixes in sources.values():
        keys = {f'{name}.{p}': f'{src}.{p}' for name, src in prefixes.items() for p in ('weight', 'bias')}
        if all(src in raw for src in keys.values()):
            return {name: raw[src].detach().to('cpu', torch.float32) for name, src in keys.items()}
    raise _layout_error(path, 'has neither layout (e.g. no conv1_1.weight, no features.0.weight)')


def load_vgg16_state(vgg_path):
    """Read a VGG16 weight file once per process.

    Args:
        vgg_path (str): local file in either layout of :data:`LAYOUTS_HELP`.

    Returns:
        tuple: ``(key, state_dict)``: the cache key ``(realpath, mtime_ns)`` and a CPU float32
        state dict for :func:`build_vgg16_features`.
    """
    if vgg_path is None:
        raise ValueError(f"option 'vgg_path' is required by the perceptual loss (got None); {LAYOUTS_HELP}")
    path = os.path.realpath(os.path.expanduser(str(vgg_path)))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"option 'vgg_path': VGG16 file {str(vgg_path)!r} not found; {LAYOUTS_HELP}")
    key = (path, os.stat(path).st_mtime_ns)
    with _LOCK:
        if key not in _STATE_CACHE:
            try:
                raw = load_checkpoint(path, "option 'vgg_path'")
            except CheckpointError as err:  # not a torch file, or one that carries pickled code
                raise _layout_error(path, f'cannot be loaded ({err})') from err
            state = _select_conv_weights(raw, path)
            try:
                build_vgg16_features().load_state_dict(state)
            except RuntimeError as err:  # right names, wrong shapes
                raise _layout_error(path, f'has tensors of the wrong shape ({err})') from err
            _STATE_CACHE[key] = state
    return key, _STATE_CACHE[key]


def frozen_vgg16_features(key, state, device, dtype):
    """The shared frozen network for one weight file, device and dtype (built on first use)."""
    net_key = (*key, torch.device(device), dtype)
    with _LOCK:
        net = _NETWORK_CACHE.get(net_key)
        if net is None:
            net = build_vgg16_features()
            net.load_state_dict(state)
            net = net.to(device=device, dtype=dtype).eval().requires_grad_(False)
            _NETWORK_CACHE[net_key] = net
    return net


def perceptual_distance(features, pred, target, eps=1e-5):
    """MSE between instance-normalised features of ``pred`` and ``target``.

    Args:
        features (nn.Module): the feature network (e.g. from :func:`frozen_vgg16_features`).
        pred (Tensor): ``[B, 3, H, W]`` RGB in [0, 1], fed as is (no mean/std normalisation).
        target (Tensor): same shape as ``pred``.
        eps (float): InstanceNorm2d epsilon (1e-5 in the reference).

    Returns:
        Tensor: scalar, differentiable with respect to both inputs.
    """

    def normalised(x):
        return F.instance_norm(features(x), eps=eps)

    if target.requires_grad:
        target_feat = normalised(target)
    else:
        with torch.no_grad():  # saves the activations a constant target would keep alive
            target_feat = normalised(target)
    return F.mse_loss(normalised(pred), target_feat)


@register_as(LOSS_REGISTRY)
class R2RPerceptualLoss(nn.Module):
    """R2RNet's perceptual loss ``MSE(IN(vgg(pred)), IN(vgg(target)))`` on relu(conv4_3).

    The VGG16 is frozen and shared (per weight file, device and dtype); it is not a submodule,
    so ``.to()`` on this loss moves nothing and its state dict is empty. Gradients flow to the
    inputs.

    Args:
        vgg_path (str): local VGG16 weight file, reference or torchvision layout.
        loss_weight (float): factor applied to the distance.
    """

    def __init__(self, vgg_path=None, loss_weight=1.0):
        super().__init__()
        check_weights({'loss_weight': loss_weight}, type(self).__name__)
        self.loss_weight = loss_weight
        self._weights_key, self._state = load_vgg16_state(vgg_path)

    def features(self, like):
        """The frozen feature network on the device and dtype of the tensor ``like``."""
        return frozen_vgg16_features(self._weights_key, self._state, like.device, like.dtype)

    def distance(self, pred, target):
        """Unweighted perceptual distance between two ``[B, 3, H, W]`` images."""
        return perceptual_distance(self.features(pred), pred, target.to(pred))

    def forward(self, pred, target):
        """Returns: Tensor: scalar, ``loss_weight * distance(pred, target)``."""
        return self.loss_weight * self.distance(pred, target)
