"""What each training stage of R2RNet trains, needs, and is judged by."""
from dataclasses import dataclass

from r2rnet_plugin.utils.option_checks import check_choice

SUB_NETWORKS = ('decom', 'denoise', 'relight')


@dataclass(frozen=True)
class Stage:
    """One ``train: stage:`` value.

    Attributes:
        name: the option value.
        trained: sub-networks optimised (and saved) in this stage; the others run frozen.
        needs: sub-networks whose weights must be loaded before the stage can start.
        losses: the ``train:`` loss option keys this stage uses (at least one must be given).
        output: the component compared with the normal-light image in validation.
        saves_whole: whether a whole-``R2RNet`` file (``net_g_<iter>.pth``) is saved as well.
    """
    name: str
    trained: tuple
    needs: tuple
    losses: tuple
    output: str
    saves_whole: bool


IMAGE_LOSSES = ('pixel_opt', 'perceptual_opt', 'frequency_opt')
ALL_LOSSES = IMAGE_LOSSES + ('decom_opt', )

STAGES = {
    'decom': Stage('decom', ('decom', ), (), ('decom_opt', ), 'R', False),
    'denoise': Stage('denoise', ('denoise', ), ('decom', ), ('pixel_opt', 'perceptual_opt'), 'R_denoised', False),
    'relight': Stage('relight', ('relight', ), ('decom', 'denoise'), IMAGE_LOSSES, 'enhanced', True),
    'joint': Stage('joint', SUB_NETWORKS, SUB_NETWORKS, ALL_LOSSES, 'enhanced', True),
}


def get_stage(name):
    """The :class:`Stage` called ``name``; a ValueError naming ``train: stage`` otherwise."""
    return STAGES[check_choice(name, tuple(STAGES), 'train: stage')]
