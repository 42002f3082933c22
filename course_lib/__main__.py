"""The command line: ``python -m course_lib train`` and ``python -m course_lib chat CHECKPOINT``.

``train`` with no arguments trains the reference-size model on the bundled corpus through the
reference schedule (pre-training, then instruction tuning), shows a progress bar and the losses,
and saves a checkpoint (``model.ckpt.npz``); ``--tokenizer bpe --vocab-size N`` trains on
subword tokens instead of words, and the BPE vocabulary travels in the checkpoint. ``chat``
loads a checkpoint and answers prompts, interactively (``exit`` or end of input quits) or once
with ``--prompt``.

Nothing is lost: everything that can be checked - the corpus files, the vocabulary, the text
lengths, the options, that the output folder can be written - is checked before the first epoch.
Ctrl-C saves the last finished epoch, weights and optimizer state, to ``<out>.partial.npz``
(so does ``--save-every N`` every N epochs), and ``--resume <out>.partial.npz`` continues the run
to the weights an uninterrupted run would have reached. A loss that becomes nan stops training
and saves nothing, so a good checkpoint is never replaced by a broken one.

User mistakes and failures (a missing file, a word the vocabulary does not know, a bad option, a
folder that cannot be written, a diverged run) end with a one-line message on stderr and exit
status 1 (2 for command-line syntax, 130 for Ctrl-C), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import importlib
import inspect
import json
import math
import os
import string
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

CHAT_TEMPLATE = "User: {prompt} Assistant:"
PARTIAL_SUFFIX = ".partial"  # model.ckpt.npz -> model.ckpt.partial.npz: the resumable run
DEFAULT_BPE_SIZE = 1000  # on the bundled corpus BPE runs out of pairs at 911 tokens


def _int_at_least(smallest: int, name: str) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} expects a whole number, got {text!r}"
            ) from None
        if value < smallest:
            raise argparse.ArgumentTypeError(f"{name} must be at least {smallest}, got {value}")
        return value

    return parse


def _number(name: str, *, positive: bool) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} expects a number, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            kind = "a positive number" if positive else "a number 0 or more"
            raise argparse.ArgumentTypeError(f"{name} must be {kind}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m course_lib``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib",
        description="Train the course's small language model, or chat with a trained one.",
    )
    commands = parser.add_subparsers(dest="command", metavar="{train,chat}")
    commands.required = True

    train = commands.add_parser(
        "train",
        help="train a model (on the bundled corpus unless told otherwise) and save a checkpoint",
        description="Pre-train on one corpus, then instruction-tune on another, and save a "
        "checkpoint. With no options: the bundled corpus and the reference schedule. Ctrl-C "
        "saves the last finished epoch to OUT's .partial file; --resume continues from it.",
    )
    train.add_argument("--pretrain", metavar="FILE", help="pre-training texts (.json or .csv)")
    train.add_argument("--chat", metavar="FILE", help="instruction-tuning texts (.json or .csv)")
    train.add_argument(
        "--epochs",
        type=_int_at_least(0, "--epochs"),
        default=None,
        help="epochs of pre-training, and of instruction tuning unless --chat-epochs (default 100)",
    )
    train.add_argument(
        "--chat-epochs",
        type=_int_at_least(0, "--chat-epochs"),
        default=None,
        help="epochs of instruction tuning (default: --epochs)",
    )
    train.add_argument(
        "--lr",
        type=_number("--lr", positive=True),
        default=None,
        help="pre-training learning rate (default 5e-4)",
    )
    train.add_argument(
        "--chat-lr",
        type=_number("--chat-lr", positive=True),
        default=None,
        help="instruction-tuning learning rate (default: a fifth of --lr)",
    )
    train.add_argument(
        "--batch-size",
        type=_int_at_least(1, "--batch-size"),
        default=None,
        help="sequences per step (default 1)",
    )
    train.add_argument(
        "--buckets",
        action="store_true",
        default=None,
        help="batch texts of similar lengths together: far less padding, faster above batch 1",
    )
    train.add_argument(
        "--seed", type=_int_at_least(0, "--seed"), default=None, help="seed of weights and order"
    )
    train.add_argument(
        "--tokenizer",
        choices=("word", "bpe"),
        default=None,
        help="word: a token per word and punctuation mark (the default); bpe: subwords learned "
        "from the corpus by byte-pair encoding (no unknown words)",
    )
    train.add_argument(
        "--vocab-size",
        type=_int_at_least(259, "--vocab-size"),
        default=None,
        help=f"with --tokenizer bpe: the vocabulary size to learn (default {DEFAULT_BPE_SIZE}; "
        "fewer when no pair of tokens occurs twice any more)",
    )
    train.add_argument(
        "--out", metavar="FILE", default=None, help="checkpoint to write (model.ckpt.npz)"
    )
    train.add_argument(
        "--save-every",
        metavar="N",
        type=_int_at_least(1, "--save-every"),
        default=None,
        help="also save the run to OUT's .partial file every N epochs, to --resume from",
    )
    train.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        default=None,
        help="continue the run saved in this .partial file (by Ctrl-C or --save-every); give "
        "the same corpus options as the run had",
    )
    _backend_options(train)

    chat = commands.add_parser(
        "chat",
        help="talk to a trained model",
        description="Answer prompts with a trained model. Type 'exit' (or end the input) to quit.",
    )
    chat.add_argument("checkpoint", metavar="CHECKPOINT", help="a file written by 'train'")
    chat.add_argument("--prompt", help="answer this one prompt and exit")
    chat.add_argument(
        "--temperature",
        type=_number("--temperature", positive=False),
        default=0.0,
        help="0 (the default) is greedy: always the most likely next word",
    )
    chat.add_argument(
        "--top-k",
        type=_int_at_least(1, "--top-k"),
        default=None,
        help="sample among the k likeliest words",
    )
    chat.add_argument(
        "--template",
        default=None,
        help=f"how a prompt is put to the model (default {CHAT_TEMPLATE!r}; '{{prompt}}' for a "
        f"DNA model)",
    )
    chat.add_argument(
        "--seed", type=_int_at_least(0, "--seed"), default=0, help="seed of the sampling"
    )
    _backend_options(chat)
    return parser


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=("numpy", "torch"), default="numpy", help="default: numpy"
    )
    parser.add_argument(
        "--device",
        default=None,
        help="torch backend only: cpu, cuda, cuda:N, mps or auto (default: the best present)",
    )
    parser.add_argument(
        "--threads",
        type=_int_at_least(1, "--threads"),
        default=1,
        help="CPU threads for the matrix products (default 1: fastest for a model this small)",
    )


class UserError(Exception):
    """A mistake the user can fix; shown as one line, without a traceback."""


class Interrupted(Exception):
    """Ctrl-C; the message says what was saved."""


# ---------------------------------------------------------------------------------------------
# output that survives a closed pipe


def _say(text: str) -> None:
    """Print a line to stdout; if its reader has gone (``train | head -1``), go on silently."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # Point stdout at /dev/null, so later prints and the flush at exit stay quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _warn(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"warning: {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# backend and threads


def _backend(name: str, device: str | None) -> tuple[Any, Any]:
    """The backend module and the device to use with it."""
    if name == "numpy":
        if device not in (None, "cpu"):
            raise UserError(
                f"--device {device} needs the torch backend; add --backend torch (the numpy "
                f"backend runs on the CPU)"
            )
        from course_lib import numpy as backend

        return backend, None
    try:
        from course_lib import torch as backend
    except ImportError as error:
        raise UserError(f"the torch backend needs PyTorch ({error}); pip install torch") from None
    try:
        resolved = backend.resolve_device(device)
    except ValueError as error:
        raise UserError(f"--device: {error}") from None
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise UserError(
            f"--device {device}: the course runs on cpu, cuda or mps, not {resolved.type}; "
            f"use --device cpu (or auto)"
        )
    return backend, resolved


@contextlib.contextmanager
def _threads(backend_name: str, threads: int) -> Iterator[None]:
    """Run the matrix products on `threads` CPU threads (torch's default, one per core, is many
    times slower for a model this small, above all on a shared machine)."""
    if backend_name == "torch":
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own thread count
        yield
        return
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


# ---------------------------------------------------------------------------------------------
# train


def _partial_path(out: Path) -> Path:
    """Where the resumable run of `out` is saved: model.ckpt.npz -> model.ckpt.partial.npz."""
    if out.suffix:
        return out.with_name(out.stem + PARTIAL_SUFFIX + out.suffix)
    return out.with_name(out.name + PARTIAL_SUFFIX)


def _fingerprint(texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=True).encode()).hexdigest()


def _schedule(args: argparse.Namespace, saved: dict[str, Any] | None) -> dict[str, Any]:
    """The run's schedule: the saved one when resuming (options may not change it), else the
    options over the reference schedule's defaults."""
    given = {
        "pretrain_epochs": args.epochs,
        "chat_epochs": args.chat_epochs if args.chat_epochs is not None else args.epochs,
        "pretrain_lr": args.lr,
        "chat_lr": args.chat_lr
        if args.chat_lr is not None
        else (args.lr / 5 if args.lr is not None else None),
        "batch_size": args.batch_size,
        "buckets": args.buckets,
        "seed": args.seed,
    }
    if saved is not None:
        saved = {"buckets": False, **saved}  # runs saved before --buckets existed had none
        changed = [
            name for name, value in given.items() if value is not None and value != saved[name]
        ]
        if changed:
            raise UserError(
                f"--resume continues the saved run as it was; these options differ from it: "
                f"{', '.join(f'{n} {given[n]} (saved {saved[n]})' for n in changed)}. Leave "
                f"them out."
            )
        return saved
    # The library's defaults are the reference schedule's; the CLI takes them from there.
    from course_lib.numpy.train import train_schedule

    parameters = inspect.signature(train_schedule).parameters
    defaults = {name: parameters[name].default for name in given}
    return {name: defaults[name] if value is None else value for name, value in given.items()}


def _load_resume(path: str) -> Any:
    from course_lib import checkpoint

    saved = checkpoint.read(path)
    progress = saved.training.progress if saved.training is not None else None
    keys = ("schedule", "stage", "epochs_done", "losses", "texts")
    if progress is None or any(key not in progress for key in keys):
        raise UserError(
            f"--resume {path}: this checkpoint holds no training run to continue (a finished "
            f"model does not); give the {PARTIAL_SUFFIX} file that Ctrl-C or --save-every wrote"
        )
    if not _valid_progress(progress):
        raise UserError(f"--resume {path}: the saved state of the run is damaged; start afresh")
    return saved


def _valid_progress(progress: dict[str, Any]) -> bool:
    """Whether a saved run's progress has the fields and types `_train` writes."""

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0

    schedule, losses, texts = progress["schedule"], progress["losses"], progress["texts"]
    return (
        isinstance(schedule, dict)
        and all(whole(schedule.get(k)) for k in ("pretrain_epochs", "chat_epochs", "seed"))
        and whole(schedule.get("batch_size"))
        and schedule["batch_size"] > 0
        and isinstance(schedule.get("buckets", False), bool)
        and all(number(schedule.get(k)) for k in ("pretrain_lr", "chat_lr"))
        and progress["stage"] in (0, 1)
        and whole(progress["epochs_done"])
        and isinstance(losses, list)
        and len(losses) == 2
        and all(isinstance(x, list) for x in losses)
        and isinstance(texts, list)
        and len(texts) == 2
        and all(isinstance(x, str) for x in texts)
        and isinstance(progress.get("out", ""), str)
    )


def _train(args: argparse.Namespace) -> int:
    import numpy as np

    from course_lib import checkpoint
    from course_lib.batching import check_learning_rate
    from course_lib.config import ModelConfig
    from course_lib.corpus import chat_texts, load_texts, pretraining_texts
    from course_lib.files import check_writable
    from course_lib.vocab import EOS, EOS_ID, Vocab

    # Everything that can be checked is checked here, before the first epoch.
    backend, device = _backend(args.backend, args.device)
    if args.vocab_size is not None and args.tokenizer != "bpe" and not args.resume:
        raise UserError("--vocab-size sets the size of a BPE vocabulary; add --tokenizer bpe")
    if args.resume and (args.tokenizer is not None or args.vocab_size is not None):
        raise UserError(
            "--resume continues the saved run with the vocabulary it was trained with; leave "
            "out --tokenizer and --vocab-size"
        )
    resumed = _load_resume(args.resume) if args.resume else None
    progress = resumed.training.progress if resumed is not None else None
    schedule = _schedule(args, progress["schedule"] if progress else None)
    pretrain = load_texts(args.pretrain) if args.pretrain else pretraining_texts()
    chat = load_texts(args.chat) if args.chat else chat_texts()
    out = Path(args.out or (progress or {}).get("out") or checkpoint.DEFAULT_PATH)
    partial = _partial_path(out)
    for path in (out, partial):
        if path.is_dir():
            raise UserError(f"--out {path} is a folder; give a file name such as model.ckpt.npz")
        check_writable(path)
    if resumed is None and partial.exists():
        raise UserError(
            f"{partial} holds an interrupted run; continue it with --resume {partial}, or delete "
            f"it (or give another --out) to start a new run"
        )
    for lr in (schedule["pretrain_lr"], schedule["chat_lr"]):
        check_learning_rate(lr, largest=3.4e38)  # the weights are float32
    if resumed is not None:
        for name, texts, saved in (
            ("--pretrain", pretrain, progress["texts"][0]),
            ("--chat", chat, progress["texts"][1]),
        ):
            if _fingerprint(texts) != saved:
                raise UserError(
                    f"--resume: the {name} texts differ from those of the run being resumed; "
                    f"give the same corpus files as that run had"
                )
        vocab, config = resumed.vocab, resumed.config
    elif args.tokenizer == "bpe":
        from course_lib.bpe import BPEVocab

        size = args.vocab_size if args.vocab_size is not None else DEFAULT_BPE_SIZE
        vocab = BPEVocab.train(pretrain + chat, size)
        config = ModelConfig(vocab_size=len(vocab))
    else:
        vocab = Vocab.build(pretrain + chat)
        config = ModelConfig(vocab_size=len(vocab))
    for name, texts in (("pre-training", pretrain), ("instruction", chat)):
        for position, text in enumerate(texts):
            length = len(vocab.encode(text))
            if length > config.max_seq_len + 1:  # it reads a text minus its last token
                larger = " or give a larger --vocab-size" if args.tokenizer == "bpe" else ""
                raise UserError(
                    f"{name} text {position} has {length} tokens; the model learns from texts "
                    f"of at most {config.max_seq_len + 1} (max_seq_len + 1). Shorten or split "
                    f"it{larger}."
                )
        open_ended = [i for i, text in enumerate(texts) if vocab.encode(text)[-1:] != [EOS_ID]]
        if open_ended:
            _warn(
                f"{len(open_ended)} {name} texts do not end with {EOS} (the first is text "
                f"{open_ended[0]}): the model will not learn where an answer stops"
            )

    kwargs: dict[str, Any] = {"seed": schedule["seed"]}
    if device is not None:
        kwargs["device"] = device
    model = backend.LLM(config, **kwargs)
    if resumed is not None:
        checkpoint.load_into(args.resume, model)
    _say(
        f"training {model.num_parameters():,} parameters ({args.backend} backend"
        + (f", {device}" if device is not None else "")
        + f", {args.threads} thread{'s' if args.threads > 1 else ''}); "
        + ("BPE " if type(vocab).__name__ == "BPEVocab" else "")
        + f"vocabulary {len(vocab)} tokens; {len(pretrain)} pre-training and {len(chat)} "
        f"instruction texts"
        + (
            f"; resuming after epoch {progress['epochs_done']} of "
            f"{('pre-training', 'instruction tuning')[progress['stage']]}"
            if progress
            else ""
        )
    )
    run = _Run(args, backend, model, vocab, schedule, progress, out, partial, (pretrain, chat))
    if resumed is not None:
        run.load_optimizer(resumed.training)
    start = time.perf_counter()
    with _threads(args.backend, args.threads), warnings.catch_warnings(), np.errstate(all="ignore"):
        # Overflow on the way to a nan loss is reported once, as the divergence it leads to.
        warnings.filterwarnings("ignore", message=".*do not end with")  # said once above
        run.run()
    seconds = time.perf_counter() - start
    try:
        checkpoint.save(out, model, vocab)  # save first: a closed stdout must not cost the model
    except KeyboardInterrupt:
        raise Interrupted(run.interrupted()) from None
    with contextlib.suppress(OSError):
        partial.unlink(missing_ok=True)  # the run is complete; nothing is left to resume
    for stage, losses in zip(("pre-training", "instruction tuning"), run.losses, strict=True):
        if losses:
            epochs = f"{len(losses)} epoch{'s' if len(losses) != 1 else ''}"
            _say(f"{stage}: loss {losses[0]:.4f} -> {losses[-1]:.4f} over {epochs}")
    _say(f"saved {out} ({seconds:.1f} s of training)")
    return 0


class _Run:
    """The two stages of a training run, a snapshot after every epoch, and the saves."""

    STAGES = ("pre-training", "instruction tuning")

    def __init__(
        self,
        args: argparse.Namespace,
        backend: Any,
        model: Any,
        vocab: Any,
        schedule: dict[str, Any],
        progress: dict[str, Any] | None,
        out: Path,
        partial: Path,
        corpora: tuple[Sequence[str], Sequence[str]],
    ) -> None:
        # The module, not the function of the same name that the backend package exports.
        train_module = importlib.import_module(f"course_lib.{args.backend}.train")
        self.args, self.backend, self.model, self.vocab = args, backend, model, vocab
        self.train_module = train_module
        self.schedule, self.out, self.partial = schedule, out, partial
        self.optimizer = backend.Adam(model, lr=schedule["pretrain_lr"])
        self.stage = progress["stage"] if progress else 0
        self.epochs_done = progress["epochs_done"] if progress else 0
        self.losses: list[list[float]] = (
            [list(x) for x in progress["losses"]] if progress else [[], []]
        )
        self.corpora = corpora
        self.texts_fingerprints = [_fingerprint(texts) for texts in corpora]
        self.snapshot: tuple[dict[str, Any], Any, dict[str, Any]] | None = None
        self.total_done = sum(len(x) for x in self.losses)

    def load_optimizer(self, training: Any) -> None:
        self.train_module.load_optimizer_state(self.model, self.optimizer, training)
        self._take_snapshot()  # Ctrl-C before the next epoch ends saves the resumed state

    def run(self) -> None:
        corpora = self.corpora
        epochs = (self.schedule["pretrain_epochs"], self.schedule["chat_epochs"])
        lrs = (self.schedule["pretrain_lr"], self.schedule["chat_lr"])
        try:
            for stage in range(self.stage, 2):
                start = self.epochs_done if stage == self.stage else 0
                self.stage, self.epochs_done = stage, start

                def after_epoch(epoch: int, loss: float, stage: int = stage) -> None:
                    self.epochs_done = epoch + 1
                    self.losses[stage].append(float(loss))
                    self.total_done += 1
                    self._take_snapshot()
                    every = self.args.save_every
                    if every and self.total_done % every == 0:
                        self._save_partial(restore=False)  # the model is the snapshot now

                self.train_module.train(
                    self.model, self.vocab, corpora[stage], epochs=epochs[stage], lr=lrs[stage],
                    batch_size=self.schedule["batch_size"], buckets=self.schedule["buckets"],
                    seed=self.schedule["seed"] + stage,
                    optimizer=self.optimizer, callback=after_epoch, desc=self.STAGES[stage],
                    threads=None, start_epoch=start,
                )  # fmt: skip
        except KeyboardInterrupt:
            raise Interrupted(self.interrupted()) from None

    def _weights(self) -> dict[str, Any]:
        """A NumPy copy of the model's weights (either backend)."""
        state = self.model.state_dict()
        if self.args.backend == "torch":
            return {key: value.detach().cpu().numpy().copy() for key, value in state.items()}
        return state  # the NumPy backend's state_dict is already a copy

    def _take_snapshot(self) -> None:
        """Remember the run as it stands after an epoch: weights, Adam's state, progress."""
        training = self.train_module.optimizer_state(self.model, self.optimizer)
        progress = {
            "schedule": self.schedule,
            "stage": self.stage,
            "epochs_done": self.epochs_done,
            "losses": [list(x) for x in self.losses],
            "texts": self.texts_fingerprints,
            "out": str(self.out),
        }
        self.snapshot = (self._weights(), training, progress)

    def _save_partial(self, restore: bool) -> None:
        """Save the last snapshot (the last finished epoch) to the .partial file; `restore`
        first puts the snapshot's weights back into the model (after Ctrl-C mid-epoch)."""
        from course_lib import checkpoint

        assert self.snapshot is not None
        weights, training, progress = self.snapshot
        if restore:
            if self.args.backend == "torch":
                import torch

                self.model.load_state_dict({k: torch.as_tensor(a) for k, a in weights.items()})
            else:
                self.model.load_state_dict(weights)
        state = checkpoint.TrainingState(training.step, training.m, training.v, progress)
        checkpoint.save(self.partial, self.model, self.vocab, training=state)

    def interrupted(self) -> str:
        """Save the last finished epoch after Ctrl-C; the message that says where and how to
        continue."""
        if self.snapshot is None:
            return "interrupted before the first epoch finished; nothing was saved"
        self._save_partial(restore=True)
        stage = self.STAGES[self.snapshot[2]["stage"]]
        done = self.snapshot[2]["epochs_done"]
        return (
            f"interrupted; saved the run after epoch {done} of {stage} to {self.partial}. "
            f"Continue it with: python -m course_lib train --resume {self.partial}"
            + (f" --pretrain {self.args.pretrain}" if self.args.pretrain else "")
            + (f" --chat {self.args.chat}" if self.args.chat else "")
            + (f" --backend {self.args.backend}" if self.args.backend != "numpy" else "")
        )


# ---------------------------------------------------------------------------------------------
# chat


def _check_template(template: str) -> None:
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as error:
        raise UserError(
            f"--template {template!r} is not a valid template ({error}); write a literal brace "
            f"as {{{{ or }}}}"
        ) from None
    if "prompt" not in fields:
        raise UserError(f"--template must contain {{prompt}}, got {template!r}")
    others = sorted({name for name in fields if name != "prompt"})
    if others:
        raise UserError(
            f"--template may only hold {{prompt}}, but it also holds "
            f"{', '.join('{' + name + '}' for name in others)}; write a literal brace as {{{{ "
            f"or }}}}"
        )


def _chat(args: argparse.Namespace) -> int:
    from course_lib.bpe import BPEVocab
    from course_lib.vocab import Vocab

    backend, device = _backend(args.backend, args.device)
    where = {} if device is None else {"device": device}  # the numpy backend has no device
    model, vocab = backend.load_checkpoint(args.checkpoint, **where)
    template = args.template
    if template is None:
        template = CHAT_TEMPLATE if isinstance(vocab, (Vocab, BPEVocab)) else "{prompt}"
    _check_template(template)

    def answer(prompt: str) -> str:
        text = template.format(prompt=prompt.strip())
        with _threads(args.backend, args.threads):
            # A BPE answer starts with the space after the prompt; a word answer has none.
            return str(
                backend.generate(
                    model,
                    vocab,
                    text,
                    temperature=args.temperature,
                    top_k=args.top_k,
                    seed=args.seed,
                )
            ).strip()

    if args.prompt is not None:
        if not args.prompt.strip():
            raise UserError("--prompt is empty; give a question such as --prompt 'What is rain?'")
        try:
            _say(answer(args.prompt))
        except ValueError as error:
            raise UserError(_friendly(error)) from None
        return 0

    _say("Type a question, or 'exit' to quit.")
    while True:
        try:
            prompt = input("> ")
        except (EOFError, KeyboardInterrupt):
            _say("")
            return 0
        except (RuntimeError, OSError, ValueError):  # no stdin at all (closed): nothing to read
            return 0
        if prompt.strip().lower() in ("exit", "quit"):
            return 0
        if not prompt.strip():
            continue
        try:
            _say(answer(prompt))
        except ValueError as error:  # unknown words, too long: a friendly line, then go on
            _say(f"({_friendly(error)})")


def _friendly(error: ValueError) -> str:
    """A chat user's version of a vocabulary error."""
    from course_lib.vocab import UnknownTokenError

    if isinstance(error, UnknownTokenError):
        near = f" (did you mean {error.suggestion!r}?)" if error.suggestion else ""
        return (
            f"I don't know the word {error.token!r}{near}. I only know the words of the texts "
            f"I was trained on; try other words"
        )
    return str(error)


# ---------------------------------------------------------------------------------------------


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {text}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        return _chat(args)
    except Interrupted as message:
        print(message, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, ArithmeticError, OSError, RuntimeError, csv.Error) as error:
        # The library's errors say what was wrong and what to do; anything else that reaches
        # here (a disk that is full, a device that fails) is reported by its reason.
        with contextlib.suppress(OSError, ValueError):
            print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; use a smaller model or corpus", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
