"""LLIEModel (type R2RPluginLLIEModel): any single-stage low-light enhancer, trained and validated in BasicSR."""
from collections import OrderedDict

import torch

from basicsr.archs import build_network
from basicsr.models.base_model import BaseModel
from basicsr.utils.registry import MODEL_REGISTRY
from r2rnet_plugin.models.ddp import ComponentsForward, wrap_for_training
from r2rnet_plugin.models.llie_validation import LLIEValidationMixin
from r2rnet_plugin.models.mixed_precision import MIXED_PRECISION_KEYS, MixedPrecisionTraining
from r2rnet_plugin.models.training_guard import NonFiniteLossGuard, check_model_options
from r2rnet_plugin.ops.allocator import reuse_freed_memory_on_cpu
from r2rnet_plugin.utils.option_checks import build_checked_loss, check_number
from r2rnet_plugin.utils.registration import register_as, run_model_hooks
from r2rnet_plugin.utils.torch_helpers import count_parameters

# ``train:`` loss options and what each loss is called with. Names are the network's outputs
# (``enhanced`` and the fields of its ``components(x)``, e.g. RetinexNet's R, L, I_delta or
# Zero-DCE's curves), ``lq`` and ``gt``; ``<name>_gt`` is that output of the network's
# ``decom`` sub-network applied to the normal-light image.
LOSS_INPUTS = OrderedDict([
    ('pixel_opt', ('enhanced', 'gt')),
    ('perceptual_opt', ('enhanced', 'gt')),
    ('frequency_opt', ('enhanced', 'gt')),
    ('decom_opt', ('R', 'L', 'R_gt', 'L_gt', 'lq', 'gt')),
    ('reflectance_opt', ('R', 'R_gt')),
    ('illumination_opt', ('I_delta', 'R')),
    ('nonref_opt', ('enhanced', 'lq', 'curves')),
])
DECOM_OUTPUTS = ('R_gt', 'L_gt')


@register_as(MODEL_REGISTRY, 'R2RPluginLLIEModel')
class LLIEModel(MixedPrecisionTraining, NonFiniteLossGuard, LLIEValidationMixin, BaseModel):
    """A low-light enhancement network ``network_g`` (any registered arch, ``net(x) -> enhanced``).

    Like BasicSR's ``SRModel``, but the losses are chosen among :data:`LOSS_INPUTS` (at least
    one), so that reference losses (``pixel_opt``, ``perceptual_opt``, ...), Retinex losses
    (``decom_opt``, ``reflectance_opt``, ``illumination_opt``: RetinexNet) and non-reference
    losses (``nonref_opt``: Zero-DCE) all fit. Networks without parameters (the non-learned
    baselines) can be tested, not trained. Optional ``train: grad_clip_norm`` clips the gradient
    norm (Zero-DCE's recipe); ``train: mixed_precision`` trains under autocast
    (:mod:`r2rnet_plugin.models.mixed_precision`). Validation (:class:`LLIEValidationMixin`):
    BasicSR metrics of the enhanced image against the normal-light image. Unknown
    ``train:``/``val:``/loss keys are errors; non-finite losses skip the step
    (:class:`NonFiniteLossGuard`).
    """

    # The option keys it reads (checked by ``check_model_options``).
    OPTION_KEYS = {'train_keys': ('grad_clip_norm', *MIXED_PRECISION_KEYS), 'loss_keys': tuple(LOSS_INPUTS)}

    def __init__(self, opt):
        run_model_hooks()  # BasicSR's fixes for runs of this model (installed by register())
        train_opt = opt.get('train') or {}
        unknown = [key for key in train_opt if key.endswith('_opt') and key not in LOSS_INPUTS]
        if opt.get('is_train') and unknown:
            raise ValueError(f"R2RPluginLLIEModel does not know the loss option(s) {', '.join(unknown)}; "
                             f"known: {', '.join(LOSS_INPUTS)}")
        check_model_options(opt, **self.OPTION_KEYS)
        super().__init__(opt)
        net = build_network(opt['network_g'])
        if self.is_train and count_parameters(net) == 0:
            raise ValueError(f"network_g type {opt['network_g']['type']} has no parameters to train: it is a "
                             'non-learned baseline; use it for testing (basicsr.test, r2rnet_plugin.benchmark) only')
        self.net_g = net.to(self.device)
        self.print_network(self.net_g)
        path_opt = opt['path']
        if path_opt.get('pretrain_network_g') is not None:
            self.load_network(self.net_g, path_opt['pretrain_network_g'], path_opt.get('strict_load_g', True),
                              path_opt.get('param_key_g', 'params'))
        if self.is_train:
            self.init_training_settings()
        else:
            self.net_g.eval()

    # ---------------------------------------------------------------------------------- training
    def init_training_settings(self):
        reuse_freed_memory_on_cpu(self.device)  # training allocates the same large tensors every step
        self.net_g.train()
        train_opt = self.opt['train']
        self.losses = OrderedDict((key, build_checked_loss(train_opt[key], f'train: {key}').to(self.device))
                                  for key in LOSS_INPUTS if train_opt.get(key))
        if not self.losses:
            raise ValueError('R2RPluginLLIEModel needs at least one loss option among ' +
                             ', '.join(f"'train: {key}'" for key in LOSS_INPUTS))
        self.grad_clip_norm = train_opt.get('grad_clip_norm')
        if self.grad_clip_norm is not None:
            check_number(self.grad_clip_norm, 'train: grad_clip_norm')
        self.init_nonfinite_guard(train_opt)
        self.init_mixed_precision(train_opt)
        # What the training step calls: DDP-wrapped under distributed training, so gradients sync.
        forward = ComponentsForward(self.net_g) if hasattr(self.net_g, 'components') else self.net_g
        self.train_forward = self.autocast_forward(wrap_for_training(forward, self.opt, self.device))
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self):
        optim_opt = dict(self.opt['train']['optim_g'])
        trainable = [p for p in self.net_g.parameters() if p.requires_grad]
        self.optimizer_g = self.get_optimizer(optim_opt.pop('type'), trainable, **optim_opt)
        self.optimizers.append(self.optimizer_g)

    def feed_data(self, data):
        self.lq = data['lq'].to(self.device)
        if 'gt' in data:
            self.gt = data['gt'].to(self.device)

    def _forward(self):
        """The network's outputs on ``lq`` by name: ``enhanced``, and each field of
        ``components(x)`` where the network has that method (RetinexNet, ZeroDCE, R2RNet)."""
        forward = self.train_forward if torch.is_grad_enabled() and self.is_train else (
            self.net_g.components if hasattr(self.net_g, 'components') else self.net_g)
        parts = forward(self.lq)
        if torch.is_tensor(parts):
            return {'enhanced': parts}
        return dict(parts._asdict() if hasattr(parts, '_asdict') else parts)

    def _outputs(self):
        """``{name: tensor}`` of everything a configured loss may ask for (see :data:`LOSS_INPUTS`)."""
        outputs = self._forward()
        outputs.update(lq=self.lq, gt=getattr(self, 'gt', None))
        if any(name in DECOM_OUTPUTS for key in self.losses for name in LOSS_INPUTS[key]):
            outputs['R_gt'], outputs['L_gt'] = self.autocast_forward(self.net_g.decom)(self.gt)
        return outputs

    def _loss_values(self):
        outputs = self._outputs()
        values = OrderedDict()
        for key, loss in self.losses.items():
            missing = [name for name in LOSS_INPUTS[key] if outputs.get(name) is None]
            if missing:
                raise ValueError(f"train: {key} needs {', '.join(missing)}, which network_g type "
                                 f"{self.opt['network_g']['type']} does not provide")
            with self.autocast():
                value = loss(*(outputs[name] for name in LOSS_INPUTS[key]))
            if isinstance(value, (tuple, list)):  # BasicSR's PerceptualLoss: (perceptual, style)
                value = sum(v for v in value if v is not None)
            values[key] = value
        self.output = outputs['enhanced']
        return values

    def optimize_parameters(self, current_iter):
        self.optimizer_g.zero_grad(set_to_none=True)
        values = self._loss_values()
        total = sum(values.values())
        if self.loss_is_finite(total, values, current_iter):
            self.backward_and_step(total, self.optimizer_g, self.grad_clip_norm, self.net_g.parameters())
        log = OrderedDict((f"l_{key[:-len('_opt')]}", value) for key, value in values.items())
        for key, loss in self.losses.items():
            log.update((f'l_{name}', value) for name, value in getattr(loss, 'last_terms', {}).items())
        log['l_total'] = total
        self.log_dict = self.reduce_loss_dict(log)

    def save(self, epoch, current_iter):
        self.save_network(self.net_g, 'net_g', current_iter)
        self.save_training_state(epoch, current_iter)

    # ------------------------------------------------------------------------------- validation
    def _output_name(self):
        return 'enhanced'

    @torch.no_grad()
    def test(self):
        self.net_g.eval()
        parts = self._forward()
        self.output = parts.pop('enhanced')
        self.visual_parts = {
            name: value
            for name, value in parts.items()  # images only, not curves
            if torch.is_tensor(value) and value.ndim == 4 and value.shape[1] in (1, 3)
        }
        if self.is_train:
            self.net_g.train()

    def get_current_visuals(self):
        visuals = OrderedDict(lq=self.lq.detach().cpu())
        visuals.update((name, value.detach().cpu()) for name, value in getattr(self, 'visual_parts', {}).items())
        visuals['result'] = self.output.detach().cpu()
        if hasattr(self, 'gt'):
            visuals['gt'] = self.gt.detach().cpu()
        return visuals
