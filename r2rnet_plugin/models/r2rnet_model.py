"""R2RNetModel: R2RNet trained stage by stage (decom -> denoise -> relight, then joint) in BasicSR."""
from collections import OrderedDict
from os import path as osp

import torch

from basicsr.archs import build_network
from basicsr.models.base_model import BaseModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY
from r2rnet_plugin.archs.r2r_blocks import use_fast_cpu_training
from r2rnet_plugin.archs.r2rnet_arch import run_stages
from r2rnet_plugin.models.ddp import wrap_for_training
from r2rnet_plugin.models.llie_validation import LLIEValidationMixin
from r2rnet_plugin.models.mixed_precision import MIXED_PRECISION_KEYS, MixedPrecisionTraining
from r2rnet_plugin.models.r2r_stages import ALL_LOSSES, SUB_NETWORKS, get_stage
from r2rnet_plugin.models.training_guard import VAL_KEYS, NonFiniteLossGuard, check_model_options
from r2rnet_plugin.ops.allocator import reuse_freed_memory_on_cpu
from r2rnet_plugin.utils.option_checks import build_checked_loss, check_bool
from r2rnet_plugin.utils.registration import register_as, run_model_hooks

# Short names of the loss terms in logs and tensorboard.
LOG_NAMES = {'pixel_opt': 'l_pix', 'perceptual_opt': 'l_percep', 'frequency_opt': 'l_freq', 'decom_opt': 'l_decom'}


@register_as(MODEL_REGISTRY)
class R2RNetModel(MixedPrecisionTraining, NonFiniteLossGuard, LLIEValidationMixin, BaseModel):
    """Staged R2RNet model.

    ``network_g`` is the whole ``R2RNet``; ``train: stage`` picks which of its sub-networks
    (``decom``, ``denoise``, ``relight``, or all for ``joint``) is optimised. The others are
    loaded from ``path: pretrain_network_<sub-network>`` (or ``pretrain_network_g``, a whole
    R2RNet file) and run frozen: eval mode, no gradients, not optimised, not saved again.

    Validation compares one component with the normal-light image: ``R`` after the decom
    stage, ``R_denoised`` after denoise, ``enhanced`` otherwise (``val: output`` overrides).

    Unknown keys in ``train:`` and ``val:`` and in each loss's options are errors that suggest
    the closest known key. An iteration whose loss is not finite makes no optimizer step; the
    run stops after ``train: max_nonfinite_steps`` (default 10) of them in a row.
    ``train: mixed_precision: bf16`` (``fp16`` on CUDA; ``auto``: bf16 where native) runs the
    sub-networks and the losses under autocast (:mod:`r2rnet_plugin.models.mixed_precision`).
    ``train: fast_cpu_conv: true`` opts the trained sub-networks into the fast float32 CPU
    training convolutions (faster, gradients not PyTorch's: see docs/training.md); by default
    training uses PyTorch's convolutions, the published code's arithmetic.
    """

    # The option keys it reads (checked by ``check_model_options``).
    OPTION_KEYS = {
        'train_keys': ('stage', 'fast_cpu_conv', *MIXED_PRECISION_KEYS),
        'loss_keys': ALL_LOSSES,
        'val_keys': VAL_KEYS + ('output', )
    }

    def __init__(self, opt):
        run_model_hooks()  # BasicSR's fixes for runs of this model (installed by register())
        check_model_options(opt, **self.OPTION_KEYS)
        super().__init__(opt)
        self.stage = get_stage(opt['train'].get('stage', 'relight')) if self.is_train else None
        self.net_g = build_network(opt['network_g']).to(self.device)
        self._check_network()
        self.print_network(self.net_g)
        self._load_pretrained()
        if self.is_train:
            self.init_training_settings()
        else:
            self.net_g.eval()

    def _check_network(self):
        missing = [name for name in SUB_NETWORKS if not hasattr(self.net_g, name)]
        if missing:
            raise ValueError(f"option 'network_g: type' must be an R2RNet-like network with sub-modules "
                             f"{', '.join(SUB_NETWORKS)}; {self.opt['network_g']['type']} lacks {', '.join(missing)}")

    # ----------------------------------------------------------------------------------- weights
    def _load_pretrained(self):
        """Load ``pretrain_network_g`` then each ``pretrain_network_<sub-network>``; check needs."""
        path_opt = self.opt['path']
        strict = path_opt.get('strict_load_g', True)
        param_key = path_opt.get('param_key_g', 'params')
        loaded = set()
        whole = path_opt.get('pretrain_network_g')
        resuming = self.is_train and path_opt.get('resume_state')
        if whole is not None and not (resuming and not osp.isfile(whole)):
            self._load_file(self.net_g, whole, 'pretrain_network_g', strict, param_key)
            loaded.update(SUB_NETWORKS)
        for name in SUB_NETWORKS:
            option = f'pretrain_network_{name}'
            if path_opt.get(option) is not None:
                self._load_file(getattr(self.net_g, name), path_opt[option], option, strict, param_key)
                loaded.add(name)
        needed = self.stage.needs if self.is_train else SUB_NETWORKS
        missing = [name for name in needed if name not in loaded]
        if missing:
            what = f"train: stage: {self.stage.name}" if self.is_train else 'testing'
            raise ValueError(f"{what} needs trained weights for {', '.join(missing)}: set " +
                             ' and '.join(f"'path: pretrain_network_{n}'"
                                          for n in missing) + " (or 'path: pretrain_network_g', a whole R2RNet file)")

    def _load_file(self, net, load_path, option, strict, param_key):
        if not osp.isfile(load_path):
            raise FileNotFoundError(f"option 'path: {option}': {load_path} does not exist")
        self.load_network(net, load_path, strict, param_key)

    def resume_training(self, resume_state):
        """Restore the trained sub-networks of ``resume_state['iter']``, then optimizers/schedulers."""
        models = self.opt['path']['models']
        for name in self.stage.trained:
            self.load_network(getattr(self.net_g, name), osp.join(models, f"net_{name}_{resume_state['iter']}.pth"))
        super().resume_training(resume_state)

    def save(self, epoch, current_iter):
        for name in self.stage.trained:
            self.save_network(getattr(self.net_g, name), f'net_{name}', current_iter)
        if self.stage.saves_whole:
            self.save_network(self.net_g, 'net_g', current_iter)
        self.save_training_state(epoch, current_iter)

    # ---------------------------------------------------------------------------------- training
    def init_training_settings(self):
        reuse_freed_memory_on_cpu(self.device)  # training allocates the same large tensors every step
        train_opt = self.opt['train']
        fast_conv = check_bool(train_opt.get('fast_cpu_conv', False), 'train: fast_cpu_conv')
        for name in SUB_NETWORKS:
            trained = name in self.stage.trained
            getattr(self.net_g, name).train(trained).requires_grad_(trained)
            use_fast_cpu_training(getattr(self.net_g, name), trained and fast_conv)
        if fast_conv:
            get_root_logger().info('train: fast_cpu_conv: true: wide float32 CPU 3x3 convolutions train by '
                                   "NNPACK (faster; gradients differ from PyTorch's, see docs/training.md)")
        self.losses = OrderedDict()
        for key in self.stage.losses:
            if train_opt.get(key):
                self.losses[key] = build_checked_loss(train_opt[key], f'train: {key}').to(self.device)
        if not self.losses:
            raise ValueError(f"train: stage: {self.stage.name} needs at least one of the options " +
                             ', '.join(f"'train: {k}'" for k in self.stage.losses))
        # Under DistributedDataParallel only the trained sub-networks are wrapped (synchronised).
        self.init_mixed_precision(train_opt)
        self.runners = {}
        for name in SUB_NETWORKS:
            runner = wrap_for_training(getattr(self.net_g, name), self.opt, self.device)
            self.runners[name] = self.autocast_forward(runner)
        self.init_nonfinite_guard(train_opt)
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self):
        optim_opt = dict(self.opt['train']['optim_g'])
        params = [p for name in self.stage.trained for p in getattr(self.net_g, name).parameters()]
        self.optimizer_g = self.get_optimizer(optim_opt.pop('type'), params, **optim_opt)
        self.optimizers.append(self.optimizer_g)

    def feed_data(self, data):
        self.lq = data['lq'].to(self.device)
        if 'gt' in data:
            self.gt = data['gt'].to(self.device)

    def _stage_losses(self):
        """Forward the stage and return ``{option key: loss}`` for its configured losses."""
        decompose_gt = self.stage.name in ('decom', 'denoise') or 'decom_opt' in self.losses
        out = run_stages(
            *(self.runners[n] for n in SUB_NETWORKS),
            self.lq,
            upto=self.stage.output,
            also_decompose=self.gt if decompose_gt else None)
        if decompose_gt:
            out, (R_high, L_high) = out
        if self.stage.name == 'denoise':
            pred, target = out.R_denoised, R_high
        else:
            pred, target = out.enhanced, self.gt
        values = OrderedDict()
        with self.autocast():
            for key, loss in self.losses.items():
                if key == 'decom_opt':
                    values[key] = loss(out.R, out.L, R_high, L_high, self.lq, self.gt)
                else:
                    values[key] = loss(pred, target)
        self.output = out
        return values

    def optimize_parameters(self, current_iter):
        self.optimizer_g.zero_grad(set_to_none=True)
        values = self._stage_losses()
        total = sum(values.values())
        if self.loss_is_finite(total, values, current_iter):
            self.backward_and_step(total, self.optimizer_g)
        log = OrderedDict((LOG_NAMES[k], v) for k, v in values.items())
        decom_loss = self.losses.get('decom_opt')
        if decom_loss is not None:
            log.update((f'l_{name}', value) for name, value in decom_loss.last_terms.items())
        log['l_total'] = total
        self.log_dict = self.reduce_loss_dict(log)

    # ------------------------------------------------------------------------------- validation
    def _output_name(self):
        default = self.stage.output if self.is_train else 'enhanced'
        name = self.opt.get('val', {}).get('output', default)
        if name not in ('R', 'R_denoised', 'enhanced'):
            raise ValueError(f"option 'val: output' must be R, R_denoised or enhanced; got {name!r}")
        return name

    @torch.no_grad()
    def test(self):
        self.net_g.eval()
        self.output = self.net_g.components(self.lq, upto=self._output_name())
        if self.is_train:
            for name in self.stage.trained:
                getattr(self.net_g, name).train()

    def get_current_visuals(self):
        visuals = OrderedDict(lq=self.lq.detach().cpu())
        for name, value in self.output._asdict().items():
            if value is not None:
                visuals[name] = value.detach().cpu()
        visuals['result'] = visuals[self._output_name()]
        if hasattr(self, 'gt'):
            visuals['gt'] = self.gt.detach().cpu()
        return visuals
