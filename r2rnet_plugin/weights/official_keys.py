"""How the published R2RNet checkpoints' parameter names map onto this plugin's modules.

The reference names every layer by hand (``conv0`` ... ``conv29``, ``RM0`` ... ``RM3``); the
plugin builds the same layers from repeated blocks. Each rule below rewrites one reference
module path (the key without ``.weight`` / ``.bias``) into the plugin's.
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
    'denoise': _unet_rules('', 'unet', 'Denoise_conv0', 'Denoise_subsampling', 'Denoise_deconv', '',
                           'Denoiseout0') + [(r'Denoiseout1', 'out_conv')],
    'relight': [
        (r'conv0', 'fuse'),
        (r'conv1', 'out_conv'),
        *_unet_rules(r'EnhanceModule1\.', 'unet_branch.unet', 'Enhance_conv0', 'Enhance_subsampling',
                     'down_channel', '.reduce', 'Enhanceout0'),
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


def plugin_key(stage, reference_key):
    """The plugin's name for ``reference_key`` of the reference network of ``stage``, or None."""
    module, dot, param = reference_key.rpartition('.')
    if not dot or param not in ('weight', 'bias'):
        return None
    for pattern, replacement in RULES[stage]:
        renamed, count = re.subn(rf'^{pattern}$', replacement, module)
        if count:
            return f'{renamed}.{param}'
    return None
