"""How published checkpoints' parameter names map onto this plugin's modules.

R2RNet: the reference names every layer by hand (``conv0`` ... ``conv29``, ``RM0`` ... ``RM3``);
the plugin builds the same layers from repeated blocks. RetinexNet: the PyTorch port
(aasharma90/RetinexNet_PyTorch) names them ``net1_*`` (Decom-Net) and ``net2_*`` (Relight-Net).
Each rule rewrites one published module path (the key without ``.weight`` / ``.bias``) into the
plugin's, relative to the stage's sub-module.
"""
import re


def _unet_conv(prefix):
    """``conv{k}`` of a reference U-Net: 5 convs per level, levels 0-3 encode, 4-5 decode."""

    def rename(match):
        k = int(match.group(1))
        level, index = divmod(k, 5)
        part = f'encoders.{level}' if level < 4 else f'decoders.{level - 4}'
        return f'{prefix}.{part}.convs.{index}'

    return rename


def _unet_rules(ref, ours, stem, down, up, up_suffix, fuse):
    """Rules for one reference U-Net (``ref.`` prefix) mapped to ``ours.``."""
    return [
        (rf'{ref}{stem}_([12])', lambda m: f'{ours}.stem.{int(m.group(1)) - 1}'),
        (rf'{ref}conv(\d+)', _unet_conv(ours)),
        (rf'{ref}{down}(\d)', rf'{ours}.downs.\1'),
        (rf'{ref}{up}(\d)', rf'{ours}.ups.\1{up_suffix}'),
        (rf'{ref}{fuse}', f'{ours}.fuse'),
    ]


RULES = {
    'decom': [
        (r'conv0', 'in_conv'),
        (r'RM(\d)\.conv([0-4])', r'residual_modules.\1.chain.convs.\2'),
        (r'RM(\d)\.conv', r'residual_modules.\1.skip'),
        (r'conv([1-4])', lambda m: f'merge_convs.{int(m.group(1)) - 1}'),
        (r'conv5', 'out_conv'),
    ],
    'denoise':
    _unet_rules('', 'unet', 'Denoise_conv0', 'Denoise_subsampling', 'Denoise_deconv', '', 'Denoiseout0') +
    [(r'Denoiseout1', 'out_conv')],
    'relight': [
        (r'conv0', 'fuse'),
        (r'conv1', 'out_conv'),
        *_unet_rules(r'EnhanceModule1\.', 'unet_branch.unet', 'Enhance_conv0', 'Enhance_subsampling', 'down_channel',
                     '.reduce', 'Enhanceout0'),
        (r'EnhanceModule1\.Enhanceout1', 'unet_branch.fuse_scales'),
        (r'EnhanceModule1\.Enhanceout2', 'unet_branch.out_conv'),
        (r'EnhanceModule0\.conv([01])', r'fft_branch.stem.\1'),
        (r'EnhanceModule0\.(feature_block\d\.resblock\d)\.model\.0', r'fft_branch.\1.conv0'),
        (r'EnhanceModule0\.(feature_block\d\.resblock\d)\.model\.2', r'fft_branch.\1.conv1'),
        (r'EnhanceModule0\.(feature_block\d\.complex_block\.complex_conv\d\.conv_[ri])', r'fft_branch.\1'),
        (r'EnhanceModule0\.down_sampling', 'fft_branch.down'),
        (r'EnhanceModule0\.channel_up\.(conv_[ri])', r'fft_branch.input_lift.\1'),
        (r'EnhanceModule0\.fft_processing\.complex_conv1\.(conv_[ri])', r'fft_branch.spectrum_in.\1'),
        (r'EnhanceModule0\.fft_processing\.complex_block(\d)\.(complex_conv\d\.conv_[ri])',
         r'fft_branch.spectrum_blocks.\1.\2'),
        (r'EnhanceModule0\.fft_processing\.complex_conv2\.(conv_[ri])', r'fft_branch.spectrum_out.\1'),
        (r'EnhanceModule0\.conv2', 'fft_branch.out_convs.0'),
        (r'EnhanceModule0\.conv3', 'fft_branch.out_convs.1'),
    ],
}

REFERENCE_NAMES = {'decom': 'DecomNet', 'denoise': 'DenoiseNet', 'relight': 'RelightNet'}

RETINEXNET_RULES = {
    'decom': [
        (r'net1_conv0', 'shallow'),
        (r'net1_convs\.(\d*[02468])', lambda m: f'layers.{int(m.group(1)) // 2}'),  # odd: the ReLUs
        (r'net1_recon', 'recon'),
    ],
    'relight': [
        (r'net2_conv0_1', 'in_conv'),
        (r'net2_conv1_([123])', lambda m: f'downs.{int(m.group(1)) - 1}'),
        (r'net2_deconv1_([123])', lambda m: f'ups.{int(m.group(1)) - 1}'),
        (r'net2_fusion', 'fusion'),
        (r'net2_output', 'out_conv'),
    ],
}

# the rules of each arch of convert_official, one list per stage
ARCH_RULES = {'r2rnet': RULES, 'retinexnet': RETINEXNET_RULES}


def plugin_key(stage, reference_key, arch='r2rnet'):
    """The plugin's name for ``reference_key`` of the published network of ``stage``, or None.

    Args:
        arch (str): ``'r2rnet'`` (the R2RNet reference) or ``'retinexnet'`` (the RetinexNet port).
    """
    module, dot, param = reference_key.rpartition('.')
    if not dot or param not in ('weight', 'bias'):
        return None
    for pattern, replacement in ARCH_RULES[arch].get(stage, ()):
        renamed, count = re.subn(rf'^{pattern}$', replacement, module)
        if count:
            return f'{renamed}.{param}'
    return None
