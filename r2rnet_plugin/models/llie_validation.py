"""Validation shared by the plugin's LLIE models: BasicSR metrics, saved images, tensorboard."""
import math
from os import path as osp

import torch
from tqdm import tqdm

from basicsr.metrics import calculate_metric
from basicsr.utils import get_root_logger, imwrite, tensor2img
from r2rnet_plugin.ops.allocator import release_freed_memory

COMPONENT_NAMES = ('R', 'L', 'R_denoised', 'I_delta')


class LLIEValidationMixin:
    """``nondist_validation`` / ``dist_validation`` for a BasicSR model whose ``test()`` fills
    ``get_current_visuals()`` with ``lq``, ``result``, optionally ``gt`` and Retinex components,
    and whose ``_output_name()`` names what ``result`` is (for the log).

    Options under ``val:``: ``metrics`` (BasicSR's metric registry), ``save_img``, ``suffix``,
    ``save_components`` (R, L, R_denoised, I_delta images; default on in training),
    ``tb_images`` (validation images sent to tensorboard, default 2), ``pbar`` (default on).
    Under distributed training, rank 0 validates on the whole set.

    A non-finite output (NaN/inf from diverged weights) would be saved as a black image and
    scored like one; instead such images are counted and named, the metrics of that validation
    are reported as ``nan``, and a non-finite metric never becomes the "Best" one.
    """

    def dist_validation(self, dataloader, current_iter, tb_logger, save_img):
        if self.opt['rank'] == 0:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        dataset_name = dataloader.dataset.opt['name']
        val_opt = self.opt['val']
        metrics = val_opt.get('metrics') or {}
        if metrics:
            self._initialize_best_metric_results(dataset_name)
        self.metric_results = {name: 0.0 for name in metrics}
        tb_images = val_opt.get('tb_images', 2)
        pbar = tqdm(
            total=len(dataloader), unit='image', desc=f'Validate {dataset_name}', disable=not val_opt.get('pbar', True))
        count, nonfinite = 0, []
        for idx, val_data in enumerate(dataloader):
            img_name = self._image_name(val_data)
            self.feed_data(val_data)
            self.test()
            visuals = self.get_current_visuals()
            count += 1
            finite = bool(torch.isfinite(visuals['result']).all())
            if not finite:
                nonfinite.append(img_name)
            if metrics and finite and 'gt' in visuals:
                pair = {'img': tensor2img([visuals['result']]), 'img2': tensor2img([visuals['gt']])}
                for name, metric_opt in metrics.items():
                    self.metric_results[name] += calculate_metric(pair, metric_opt)
            if save_img:
                self._save_visuals(visuals, img_name, dataset_name, current_iter)
            if tb_logger is not None and idx < tb_images:
                row = torch.cat([visuals[k][0] for k in ('lq', 'result', 'gt') if k in visuals], dim=2)
                tb_logger.add_image(f'{dataset_name}/{img_name}', row.clamp(0, 1), current_iter)
            self.__dict__.pop('gt', None)
            pbar.update(1)
        pbar.close()
        release_freed_memory()  # whole validation images need far more memory than training crops
        if nonfinite:
            shown = ', '.join(nonfinite[:5]) + (', ...' if len(nonfinite) > 5 else '')
            get_root_logger().warning(
                f'Validation {dataset_name} at iter {current_iter}: {len(nonfinite)} of {count} image(s) gave '
                f'non-finite outputs (NaN/inf): {shown}; the metrics are nan and not counted as Best.')
        if metrics and count:
            for name in metrics:
                self.metric_results[name] = math.nan if nonfinite else self.metric_results[name] / count
                if math.isfinite(self.metric_results[name]):
                    self._update_best_metric_result(dataset_name, name, self.metric_results[name], current_iter)
            self._log_validation_metric_values(current_iter, dataset_name, tb_logger)

    @staticmethod
    def _image_name(data):
        """Unique name of a validation image: the dataset key (``Huawei/12`` -> ``Huawei_12``) or file stem."""
        if 'key' in data:
            return str(data['key'][0]).replace('/', '_')
        return osp.splitext(osp.basename(data['lq_path'][0]))[0]

    def _save_visuals(self, visuals, img_name, dataset_name, current_iter):
        """The result, and the Retinex components (``val: save_components``, default on in training)."""
        vis_root = self.opt['path']['visualization']
        if self.is_train:
            folder, tag = osp.join(vis_root, img_name), f'{img_name}_{current_iter}'
        else:
            folder = osp.join(vis_root, dataset_name)
            tag = f"{img_name}_{self.opt['val'].get('suffix') or self.opt['name']}"
        imwrite(tensor2img([visuals['result']]), osp.join(folder, f'{tag}.png'))
        if self.opt['val'].get('save_components', self.is_train):
            for name in COMPONENT_NAMES:
                if name in visuals:
                    imwrite(tensor2img([visuals[name]]), osp.join(folder, f'{tag}_{name}.png'))

    def _log_validation_metric_values(self, current_iter, dataset_name, tb_logger):
        logger = get_root_logger()
        lines = [f'Validation {dataset_name} ({self._output_name()} vs normal light)']
        for name, value in self.metric_results.items():
            best = self.best_metric_results[dataset_name][name]
            note = '' if math.isfinite(value) else ' (non-finite: not counted)'
            best_text = f'{best["val"]:.4f} @ {best["iter"]} iter' if best['iter'] != -1 else 'none yet'
            lines.append(f'\t # {name}: {value:.4f}{note}\tBest: {best_text}')
            if tb_logger:
                tb_logger.add_scalar(f'metrics/{dataset_name}/{name}', value, current_iter)
        logger.info('\n'.join(lines))
