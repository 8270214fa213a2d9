"""The training loop of the LR-guided invertible trainers (:mod:`rescale.train.irn`, :mod:`rescale.train.iarn`).

Both train with the same loss parts (:data:`PARTS`), the same adaptive LR-guidance weight, Adam
with warm-up and cosine decay, and the same bookkeeping: a ``train`` record in ``RUN/log.jsonl``
every ``--log-seconds``, an ``eval`` record every ``--eval-every`` steps, ``RUN/ckpt.pt`` every
``--save-seconds`` and at the end, weights exported with a manifest when ``--export`` is given.
What differs (the batch, the evaluation, the manifest) comes in as functions: :func:`train`.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from collections.abc import Callable

import torch

from .run import RunDir, export_weights, hardware

#: names of the loss parts a trainer's batch loss returns, in order (one detached tensor)
PARTS = ("loss", "rec", "lr_mse", "z2")


def add_budget_arguments(p: argparse.ArgumentParser, *, eval_every: int, log_seconds: float) -> None:
    """The "budget" group :func:`train` reads: when to stop, evaluate, save and log."""
    g = p.add_argument_group("budget")
    g.add_argument("--minutes", type=float, default=0, help="wall-time budget of this invocation (0: none)")
    g.add_argument("--steps", type=int, default=0, help="total steps to reach (0: none)")
    g.add_argument("--eval-every", type=int, default=eval_every)
    g.add_argument("--save-seconds", type=float, default=120)
    g.add_argument("--log-seconds", type=float, default=log_seconds)


def add_guidance_arguments(g) -> None:
    """The schedule, clipping and LR-guidance options (after ``--lr`` in a trainer's optimisation group)."""
    g.add_argument("--warmup", type=int, default=100)
    g.add_argument("--clip", type=float, default=1.0)
    g.add_argument("--lr-psnr", type=float, default=37.0, help="target PSNR (dB) of the LR against bicubic")
    g.add_argument("--lambda-lr", type=float, default=1.0, help="initial LR-guidance weight (adapted)")
    g.add_argument("--lambda-z", type=float, default=1.0)


def start_run(args) -> tuple[float, torch.device]:
    """Seed torch, set ``--threads``; returns the time the ``--minutes`` budget counts from (now,
    so that loading data and building the model count) and ``--device``."""
    t_start = time.time()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    return t_start, torch.device(args.device)


def optimizer_step(model, opt, loss: torch.Tensor, parts: torch.Tensor, names, clip: float) -> dict | None:
    """Backward, clip and step; returns the loss parts ``{name: float}`` (one device sync), or None
    when the loss or the gradient is not finite (the step is skipped)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    values = torch.cat([parts, gnorm.detach().float().view(1)]).tolist()
    out = dict(zip(names, values[:-1]))
    if not math.isfinite(values[-1]) or not math.isfinite(out["loss"]):
        return None
    opt.step()
    return out


def adapt_lambda(lambda_lr: float, lr_mse: float, target_db: float) -> tuple[float, float]:
    """Keep the LR near the target PSNR: raise the guidance weight when the LR drifts below it.
    Returns ``(new lambda, the batch LR PSNR in dB)``."""
    lr_psnr = -10 * math.log10(max(lr_mse, 1e-12))
    return min(64.0, max(0.05, lambda_lr * math.exp(0.002 * (target_db - lr_psnr)))), lr_psnr


def schedule(args, step_in_run: int, progress: float) -> float:
    """Learning rate: linear warm-up, then cosine to 5% of ``--lr`` at ``progress = 1``."""
    warm = min(1.0, (step_in_run + 1) / max(1, args.warmup))
    return args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _progress(args, step):
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(initial=step, total=args.steps or None, unit="step", dynamic_ncols=True)


def train(
    args,
    run: RunDir,
    model: torch.nn.Module,
    state: dict,
    t_start: float,
    *,
    batch_loss: Callable[[float], tuple[torch.Tensor, torch.Tensor]],
    evaluate: Callable[[], tuple[dict, str]] | None,
    manifest: Callable[[int, float, list, dict | None, float], dict],
    segment_info: dict,
    checkpoint_info: dict | None = None,
    eval_reserve: float = 1.0,
    eval_s_digits: int = 1,
) -> int:
    """Train ``model`` from ``state`` until ``--steps``, the ``--minutes`` budget (counted from
    ``t_start``) or SIGTERM / Ctrl-C, then save the checkpoint and export if ``--export``.

    ``state``: a checkpoint of this loop, or a fresh ``{"step", "seconds", "lambda_lr", "segments"}``
    (``"optimizer"`` too when resuming). The trainer supplies:

    - ``batch_loss(lambda_lr) -> (loss, parts)``: draw one batch, return its loss and the detached
      tensor of its :data:`PARTS`;
    - ``evaluate() -> (fields, message)``: the scores to log in the ``eval`` record and the text
      printed after ``"step N: "`` (None: no evaluation images, no evaluation);
    - ``manifest(step, seconds, segments, final eval record, lambda_lr) -> dict`` for the export;
    - ``segment_info``: keys added to this invocation's entry of ``segments`` (batch, patch size);
      ``checkpoint_info``: keys added to the checkpoint;
    - ``eval_reserve``: how many of the slowest evaluation's durations, plus 10 s, to keep of the
      budget for the end; ``eval_s_digits``: decimals of the logged evaluation time.
    """
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if "optimizer" in state:
        opt.load_state_dict(state["optimizer"])
    step, lambda_lr, segments, seconds0 = state["step"], state["lambda_lr"], list(state["segments"]), state["seconds"]

    def segment() -> list:  # this invocation's share of the training, for the manifest
        if step == step0:
            return []
        return [
            {"hardware": hardware(), "steps": step - step0, "seconds": round(time.time() - t_loop, 1), **segment_info}
        ]

    def save():
        run.save(
            {
                "arch": model.args,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                **(checkpoint_info or {}),
                "seconds": seconds0 + (time.time() - t_loop),
                "lambda_lr": lambda_lr,
                "segments": segments + segment(),
            }
        )

    def do_eval():
        if evaluate is None:
            return None
        t = time.time()
        model.eval()
        fields, message = evaluate()
        model.train()
        rec = {
            "kind": "eval",
            "step": step,
            "seconds": round(seconds0 + time.time() - t_loop, 1),
            **fields,
            "eval_s": round(time.time() - t, eval_s_digits),
        }
        run.log(**rec)
        print(f"step {step}: {message}", flush=True)
        return rec

    stop = []  # SIGTERM / Ctrl-C: finish the step, then save and export as at the end of the budget
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    step0, t_loop = step, time.time()
    budget = args.minutes * 60 if args.minutes else math.inf
    last_eval = do_eval()
    eval_cost = last_eval["eval_s"] if last_eval else 0.0
    bar = _progress(args, step)
    sums, count, t_log, t_save, skipped = {}, 0, time.time(), time.time(), 0
    model.train()
    while not stop and not (args.steps and step >= args.steps):
        elapsed = time.time() - t_start
        if elapsed + eval_reserve * eval_cost + 10 > budget:
            break
        progress = max(
            (step - step0) / max(1, args.steps - step0) if args.steps else 0.0,
            elapsed / budget if budget < math.inf else 0.0,
        )
        for group in opt.param_groups:
            group["lr"] = schedule(args, step - step0, progress)
        loss, parts = batch_loss(lambda_lr)
        parts = optimizer_step(model, opt, loss, parts, PARTS, args.clip)
        if parts is None:
            skipped += 1
            if skipped > 50:
                raise SystemExit("loss or gradient not finite 50 times: lower --lr")
            continue
        step += 1
        lambda_lr, lr_psnr = adapt_lambda(lambda_lr, parts["lr_mse"], args.lr_psnr)
        for k, v in {**parts, "lr_psnr": lr_psnr}.items():
            sums[k] = sums.get(k, 0.0) + v
        count += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{parts['loss']:.4f}", lr_db=f"{lr_psnr:.1f}", lam=f"{lambda_lr:.2f}")
        now = time.time()
        if now - t_log >= args.log_seconds:
            rec = {k: round(v / count, 6) for k, v in sums.items()}
            run.log(
                kind="train",
                step=step,
                seconds=round(seconds0 + now - t_loop, 1),
                s_per_step=round((now - t_log) / count, 4),
                lr=opt.param_groups[0]["lr"],
                lambda_lr=round(lambda_lr, 4),
                **rec,
            )
            if bar is None:
                print(
                    f"step {step}: loss {rec['loss']:.5f} rec {rec['rec']:.5f} LR {rec['lr_psnr']:.2f} dB "
                    f"lambda {lambda_lr:.2f} {(now - t_log) / count:.3f} s/step",
                    flush=True,
                )
            sums, count, t_log = {}, 0, now
        if step % args.eval_every == 0 and evaluate is not None:
            last_eval = do_eval()
            eval_cost = max(eval_cost, last_eval["eval_s"])
        if now - t_save >= args.save_seconds:
            save()
            t_save = now
    if bar is not None:
        bar.close()
    final = last_eval if last_eval is not None and last_eval["step"] == step else do_eval()
    save()
    print(
        f"{step - step0} steps in {time.time() - t_loop:.0f} s ({skipped} skipped); checkpoint {run.ckpt}", flush=True
    )
    if args.export:
        path = export_weights(
            model, args.export, manifest(step, seconds0 + time.time() - t_loop, segments + segment(), final, lambda_lr)
        )
        print(f"exported {path}", flush=True)
    return 0
