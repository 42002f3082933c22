"""The command line: ``python -m course_lib train`` and ``python -m course_lib chat CHECKPOINT``.

``train`` with no arguments trains the reference-size model on the bundled corpus through the
reference schedule (pre-training, then instruction tuning), shows a progress bar and the losses,
and saves a checkpoint (``model.ckpt.npz``). ``chat`` loads a checkpoint and answers prompts,
interactively (``exit`` or end of input quits) or once with ``--prompt``.

User mistakes (a missing file, a word the vocabulary does not know, a bad option) end with a
one-line message on stderr and exit status 1 (2 for command-line syntax), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

CHAT_TEMPLATE = "User: {prompt} Assistant:"


def _int_at_least(smallest: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < smallest:
            raise argparse.ArgumentTypeError(f"must be at least {smallest}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


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
        "checkpoint. With no options: the bundled corpus and the reference schedule.",
    )
    train.add_argument("--pretrain", metavar="FILE", help="pre-training texts (.json or .csv)")
    train.add_argument("--chat", metavar="FILE", help="instruction-tuning texts (.json or .csv)")
    train.add_argument(
        "--epochs", type=_non_negative_int, default=None, help="epochs of each stage (default 100)"
    )
    train.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="pre-training learning rate (default 5e-4); instruction tuning uses a fifth of it",
    )
    train.add_argument(
        "--batch-size", type=_positive_int, default=None, help="sequences per step (default 1)"
    )
    train.add_argument("--seed", type=int, default=0, help="seed of weights and data order")
    train.add_argument(
        "--out", metavar="FILE", default=None, help="checkpoint to write (model.ckpt.npz)"
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
        type=_non_negative_float,
        default=0.0,
        help="0 (the default) is greedy: always the most likely next word",
    )
    chat.add_argument(
        "--top-k", type=_positive_int, default=None, help="sample among the k likeliest words"
    )
    chat.add_argument(
        "--template",
        default=CHAT_TEMPLATE,
        help=f"how a prompt is put to the model (default {CHAT_TEMPLATE!r})",
    )
    chat.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    _backend_options(chat)
    return parser


def _backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend", choices=("numpy", "torch"), default="numpy", help="default: numpy"
    )
    parser.add_argument(
        "--device",
        default=None,
        help="torch backend only: cpu, cuda, mps or auto (default: the best device present)",
    )


class UserError(Exception):
    """A mistake the user can fix; shown as one line, without a traceback."""


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
    return backend, backend.resolve_device(device)


def _train(args: argparse.Namespace) -> int:
    from course_lib import checkpoint
    from course_lib.config import ModelConfig
    from course_lib.corpus import chat_texts, load_texts, pretraining_texts
    from course_lib.vocab import Vocab

    backend, device = _backend(args.backend, args.device)
    pretrain = load_texts(args.pretrain) if args.pretrain else pretraining_texts()
    chat = load_texts(args.chat) if args.chat else chat_texts()
    out = Path(args.out or checkpoint.DEFAULT_PATH)
    if out.is_dir():
        raise UserError(
            f"--out {out} is a folder; give a file name such as {out / 'model.ckpt.npz'}"
        )
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise UserError(f"--out {out}: the folder {out.parent} does not exist")

    vocab = Vocab.build(pretrain + chat)
    config = ModelConfig(vocab_size=len(vocab))
    for name, texts in (("pre-training", pretrain), ("instruction", chat)):
        for position, text in enumerate(texts):
            length = len(vocab.encode(text))
            if length > config.max_seq_len + 1:  # it reads a text minus its last token
                raise UserError(
                    f"{name} text {position} has {length} tokens; the model learns from texts "
                    f"of at most {config.max_seq_len + 1} (max_seq_len + 1). Shorten or split it."
                )
    kwargs: dict[str, Any] = {"seed": args.seed}
    if device is not None:
        kwargs["device"] = device
    model = backend.LLM(config, **kwargs)
    print(
        f"training {model.num_parameters():,} parameters ({args.backend} backend"
        + (f", {device}" if device is not None else "")
        + f"); vocabulary {len(vocab)} tokens; {len(pretrain)} pre-training and {len(chat)} "
        f"instruction texts"
    )
    schedule: dict[str, Any] = {"seed": args.seed}
    if args.epochs is not None:
        schedule["pretrain_epochs"] = args.epochs
        schedule["chat_epochs"] = args.epochs
    if args.lr is not None:
        schedule["pretrain_lr"] = args.lr
        schedule["chat_lr"] = args.lr / 5
    if args.batch_size is not None:
        schedule["batch_size"] = args.batch_size
    start = time.perf_counter()
    pre_losses, chat_losses = backend.train_schedule(model, vocab, pretrain, chat, **schedule)
    seconds = time.perf_counter() - start
    for stage, losses in (("pre-training", pre_losses), ("instruction tuning", chat_losses)):
        if losses:
            print(f"{stage}: loss {losses[0]:.4f} -> {losses[-1]:.4f} over {len(losses)} epochs")
    checkpoint.save(out, model, vocab)
    print(f"saved {out} ({seconds:.1f} s of training)")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from course_lib import checkpoint

    backend, device = _backend(args.backend, args.device)
    if "{prompt}" not in args.template:
        raise UserError(f"--template must contain {{prompt}}, got {args.template!r}")
    model, vocab = checkpoint.load(args.checkpoint, backend=args.backend, device=device)

    def answer(prompt: str) -> str:
        text = args.template.format(prompt=prompt.strip())
        return str(
            backend.generate(
                model,
                vocab,
                text,
                temperature=args.temperature,
                top_k=args.top_k,
                seed=args.seed,
            )
        )

    if args.prompt is not None:
        if not args.prompt.strip():
            raise UserError("--prompt is empty; give a question such as --prompt 'What is rain?'")
        try:
            print(answer(args.prompt))
        except ValueError as error:
            raise UserError(_friendly(error)) from None
        return 0

    print("Type a question, or 'exit' to quit.")
    while True:
        try:
            prompt = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if prompt.strip().lower() in ("exit", "quit"):
            return 0
        if not prompt.strip():
            continue
        try:
            print(answer(prompt))
        except ValueError as error:  # unknown words, too long: a friendly line, then go on
            print(f"({_friendly(error)})")


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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: sys.argv[1:]); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        return _chat(args)
    except (UserError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
