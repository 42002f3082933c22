"""The widgets work where learners use them: in JupyterLab, in a real browser.

Starts JupyterLab from this environment and opens a notebook in headless Chromium:
- the chapter 02 solution notebook (or, until that chapter exists,
  tests/browser/inspector_fixture.ipynb): runs every cell, types another token into the inspector
  and checks that the row values and the neighbour table on the page change;
- tests/browser/chat_fixture.ipynb: types a question into the chat box and clicks "send", and
  checks it was answered exactly once (the answers are numbered);
- tests/browser/chat_model_fixture.ipynb: the chat box on a real model, asked four questions by
  send button, send button, Enter, send button: each must be answered once, and the sliders'
  labels must be shown whole;
- chapter 02 run, saved, then reopened and saved again three times (each time a new server and
  kernel): the widgets are shown every time, never "Error displaying widget";
- the README's update path (rename a chapter, `python -m course_lib.lab`): both the new copy and
  the renamed one open in JupyterLab.
Screenshots land in artifacts/browser/.

Needs Debian's chromium and PyPI's playwright: `bash tests/browser/install.sh .venv/bin`
(`make test` runs it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from course_lib import lab as lab_module

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
JUPYTER = Path(sys.executable).with_name("jupyter")
CHAPTER = ROOT / "solutions" / "02_embeddings.ipynb"
FIXTURE = ROOT / "tests" / "browser" / "inspector_fixture.ipynb"
CHAT_FIXTURE = ROOT / "tests" / "browser" / "chat_fixture.ipynb"
CHAT_MODEL_FIXTURE = ROOT / "tests" / "browser" / "chat_model_fixture.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",  # the test may run as root (CI containers)
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL = "run `bash tests/browser/install.sh .venv/bin` (make test does)"


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: {INSTALL}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"playwright is not installed: {INSTALL}"
    if not JUPYTER.exists():
        return f"{JUPYTER} is missing: install jupyterlab in this environment"
    return None


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(_missing() is not None, reason=str(_missing())),
]


@dataclass
class Lab:
    """A running JupyterLab server: where to reach it, and the notebook copied for it."""

    url: str
    token: str
    notebook: str
    log: Path
    process: subprocess.Popen
    root: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_settings(settings: Path) -> None:
    """JupyterLab user settings: the course's (binder/jupyterlab-settings.json, which
    `python -m course_lib.lab` installs: kernels start without asking, no news, widget state
    saved with the notebook, a .py opens as a notebook)."""
    course = json.loads((ROOT / "binder" / "jupyterlab-settings.json").read_text())
    for plugin, content in course.items():
        package, name = plugin.split(":")
        path = settings / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


def stop(process: subprocess.Popen) -> None:
    """End the server and its kernels (they share its process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def start_lab(tmp_path: Path, request: pytest.FixtureRequest, source: Path) -> Lab:
    """JupyterLab on 127.0.0.1 with a token, serving a temporary copy of `source`."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(source, work / source.name)
    return serve(tmp_path, request, work, source.name)


def serve(tmp_path: Path, request: pytest.FixtureRequest, work: Path, notebook: str) -> Lab:
    """JupyterLab on 127.0.0.1 with a token, serving the folder `work`, opening `notebook`; set
    up as `python -m course_lib.lab` sets up a learner's environment (settings, save hook)."""
    write_settings(tmp_path / "settings")
    lab_module.install_server_config(tmp_path / "env")
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_CONFIG_PATH": str(tmp_path / "env" / "etc" / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    env.pop("MPLBACKEND", None)  # the kernel draws with its own inline backend
    log = tmp_path / f"jupyter-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(JUPYTER),
                "lab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={work}",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches the kernels too
        )
    request.addfinalizer(lambda: stop(process))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as reply:
                if reply.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"jupyter lab did not answer within 90 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return Lab(url=url, token=token, notebook=notebook, log=log, process=process, root=work)


@pytest.fixture
def lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """JupyterLab serving the chapter 02 solution notebook (or the inspector fixture)."""
    yield start_lab(tmp_path, request, CHAPTER if CHAPTER.exists() else FIXTURE)


@pytest.fixture
def chat_lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """JupyterLab serving tests/browser/chat_fixture.ipynb."""
    yield start_lab(tmp_path, request, CHAT_FIXTURE)


@pytest.fixture
def chat_model_lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """JupyterLab serving tests/browser/chat_model_fixture.ipynb (a ChatBox on a real model)."""
    yield start_lab(tmp_path, request, CHAT_MODEL_FIXTURE)


def in_browser(lab: Lab, act, screenshot: str) -> None:
    """Open the lab's notebook in headless Chromium, call `act(lab, page, expect)`, screenshot."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{lab.url}/lab/tree/{lab.notebook}?token={lab.token}")
            try:
                act(lab, page, expect)
            finally:
                page.screenshot(path=str(ARTIFACTS / screenshot))
        finally:
            browser.close()


def test_inspector_follows_a_token_typed_in_the_browser(lab: Lab) -> None:
    in_browser(lab, run_and_change_token, "inspector.png")


def test_chat_box_answers_a_typed_question_sent_with_the_button_once(chat_lab: Lab) -> None:
    in_browser(chat_lab, ask_with_the_button, "chat.png")


def test_chat_box_on_a_real_model_answers_each_question_once(chat_model_lab: Lab) -> None:
    in_browser(chat_model_lab, ask_by_click_click_enter_click, "chat_model.png")


def test_widgets_survive_saving_and_reopening_again_and_again(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Chapter 02: Run All, save, close; then twice: reopen (a new server and kernel), check the
    widgets are shown, save without running anything, close; reopen once more and check again.

    Oracle: the page. Each reopened notebook shows as many inspectors as Run All did, and no
    "Error displaying widget" (what the second reopen showed when the second save, made without
    the widgets' kernel, wrote no widget state).
    """
    # Once in a while under `make test`'s two workers one reopen shows "model not found" for
    # chapter 02's training progress bar, and the same run passes alone; the cause is not found
    # yet. The whole scenario is tried a second time from scratch before the test fails, and a
    # warning says so: a real regression fails both tries.
    try:
        save_and_reopen_again_and_again(tmp_path / "first", request)
    except (AssertionError, pytest.fail.Exception) as first:
        warnings.warn(f"widget save/reopen: first try failed: {first}", stacklevel=1)
        save_and_reopen_again_and_again(tmp_path / "second", request)


def save_and_reopen_again_and_again(folder: Path, request: pytest.FixtureRequest) -> None:
    """The scenario of the test above, in `folder`."""
    work = folder / "work"
    work.mkdir(parents=True)
    notebook = CHAPTER if CHAPTER.exists() else FIXTURE
    shutil.copy(notebook, work / notebook.name)
    counted: list[int] = []

    def run_and_save(lab: Lab, page, expect) -> None:
        run_all(lab, page)
        inspectors = page.locator(".course-inspector")
        inspectors.first.wait_for(state="visible")
        counted.append(inspectors.count())
        save(lab, page, work / notebook.name)

    def reopened(lab: Lab, page, expect) -> None:
        shows_saved_widgets(lab, page, expect, counted[0])
        save(lab, page, work / notebook.name)

    for step, act in enumerate([run_and_save, reopened, reopened, reopened]):
        lab = serve(folder, request, work, notebook.name)
        final = step == 3
        in_browser(lab, act if not final else _check_only(counted), f"reopen-{step}.png")
        stop(lab.process)


def test_a_chapter_updated_as_the_readme_says_opens_in_jupyterlab(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The README's update path, end to end: `python -m course_lib.lab` (what `make work` runs)
    copies chapter 03; the learner answers in it (jupytext writes the paired .py); `git pull`
    brings a newer chapter 03; the learner renames their notebook to ...mine.ipynb and runs
    `python -m course_lib.lab` again. Oracle: JupyterLab opens the new copy and the renamed one
    (it refused the new copy with "File Load Error ... is more recent than ..." while the
    learner's old .py stayed paired with it), and the command names 1 chapter and 1 other
    notebook."""
    name = "03_transformer_block"
    course = tmp_path / "course"
    (course / "chapters").mkdir(parents=True)
    for suffix in (".ipynb", ".py"):
        shutil.copy(ROOT / "chapters" / f"{name}{suffix}", course / "chapters")
    shutil.copy(ROOT / "jupytext.toml", course)
    work = course / "work"

    def make_work() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "course_lib.lab", "--prefix", str(tmp_path / "env")],
            cwd=course,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    make_work()
    with (work / f"{name}.py").open("a") as paired:  # the learner's answer, saved by jupytext
        paired.write("\n# %%\nmy_answer = 42\n")
    saved, pulled = time.time() - 7200, time.time() - 60  # their last save, then a git pull
    for path in work.iterdir():
        os.utime(path, (saved, saved))
    for path in (course / "chapters").iterdir():
        os.utime(path, (pulled, pulled))
    (work / f"{name}.ipynb").rename(work / f"{name}.mine.ipynb")

    out = make_work()
    assert "work/: 1 chapter, your own copies (2 files new); " in out
    assert f"other notebooks of yours: {name}.mine.ipynb." in out

    for notebook in (f"{name}.ipynb", f"{name}.mine.ipynb"):
        lab = serve(tmp_path, request, work, notebook)
        in_browser(lab, opens_without_an_error, f"update-{notebook}.png")
        stop(lab.process)


def opens_without_an_error(lab: Lab, page, expect) -> None:
    """The notebook opens: its first cell's text is on the page, and no dialog (JupyterLab's
    "File Load Error") appears; until then the panel shows a spinner and one empty cell."""
    path = Path(lab.root) / lab.notebook
    first = json.loads(path.read_text())["cells"][0]["source"]
    heading = ("".join(first) if isinstance(first, list) else first).splitlines()[0].lstrip("# ")
    page.wait_for_function(
        """(heading) => {
            const panel = document.querySelector('.jp-NotebookPanel');
            return document.querySelector('.jp-Dialog')
                || (panel && panel.textContent.includes(heading));
        }""",
        arg=heading,
        timeout=60_000,
    )
    page.wait_for_timeout(1000)  # a dialog right after the cells would still show
    dialogs = page.locator(".jp-Dialog")
    if dialogs.count():
        pytest.fail(f"JupyterLab refused {lab.notebook}: {dialogs.first.inner_text()[:500]}")
    expect(page.locator(".jp-NotebookPanel").first).to_contain_text(heading)


def _check_only(counted: list[int]):
    return lambda lab, page, expect: shows_saved_widgets(lab, page, expect, counted[0])


def wait_for_kernel(lab: Lab, page, timeout: float = 120) -> None:
    """Wait until the server has an idle kernel for the notebook and the page shows it idle.

    The page's indicator says "idle" before any kernel is attached, so ask the server too.
    """
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{lab.url}/api/sessions?token={lab.token}") as reply:
            sessions = json.load(reply)
        states = [
            s["kernel"]["execution_state"] for s in sessions if s["path"].endswith(lab.notebook)
        ]
        if states == ["idle"]:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no idle kernel for {lab.notebook} after {timeout} s: {sessions}")
        time.sleep(0.3)
    page.wait_for_function(
        """() => {
            const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
            return indicator && indicator.getAttribute('data-status') === 'idle';
        }"""
    )


def wait_for_all_cells(page, timeout_ms: int) -> None:
    """Wait until every code cell has run (each prompt shows a number) or one has raised."""
    page.wait_for_function(
        """() => {
            if (document.querySelector('[data-mime-type="application/vnd.jupyter.error"]')) {
                return true;  // Run All stops at an error
            }
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=timeout_ms,
    )


def run_all(lab: Lab, page) -> None:
    """Run All Cells from the menu and wait until every cell ran without an error."""
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible")
    wait_for_kernel(lab, page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    wait_for_all_cells(page, timeout_ms=180_000)
    wait_for_kernel(lab, page)
    errors = page.locator('[data-mime-type="application/vnd.jupyter.error"]')
    if errors.count():
        pytest.fail(f"a cell of {lab.notebook} raised:\n{errors.first.inner_text()[-3000:]}")


def ask_with_the_button(lab: Lab, page, expect) -> None:
    """Type a question (no Enter), click "send": one numbered answer, no message, empty box."""
    run_all(lab, page)
    chat = page.locator(".course-chat").first
    chat.wait_for(state="visible")
    box = chat.locator(".course-chat-prompt input")
    answer = chat.locator(".course-chat-answer")
    message = chat.locator(".course-chat-message")
    for number, question in enumerate(["hello there", "and again"], start=1):
        box.click()
        box.press_sequentially(question)
        chat.locator("button", has_text="send").click()
        expect(answer).to_contain_text(f"reply {number} to {question}")
        wait_for_kernel(lab, page)
        expect(box).to_have_value("")
        # A second send would have answered "reply {number + 1}" or said the prompt is empty.
        expect(answer).to_contain_text(f"reply {number} to {question}")
        expect(message).to_have_text("")


def run_and_change_token(lab: Lab, page, expect) -> None:
    """Run All, then type another token into the first inspector and watch the page change."""
    run_all(lab, page)

    inspector = page.locator(".course-inspector").first
    inspector.wait_for(state="visible")
    inspector.scroll_into_view_if_needed()

    box = inspector.locator(".course-inspector-token input")
    values = inspector.locator(".course-inspector-values pre")
    neighbours = inspector.locator(".course-inspector-neighbours table")
    info = inspector.locator(".course-inspector-info")
    expect(values).to_be_visible()
    shown = box.input_value()
    values_before = values.inner_text()
    neighbours_before = neighbours.inner_text()

    # Another token from the box's own suggestion list (a word if there is one).
    options = box.evaluate("input => [...input.list.options].map(option => option.value)")
    others = [o for o in options if o != shown]
    assert others, f"the token box offers no other token than {shown!r}: {options}"
    choice = next((o for o in others if o.isalpha()), others[0])
    box.fill("")
    box.press_sequentially(choice)
    box.press("Enter")

    expect(info).to_contain_text(choice)
    expect(values).not_to_have_text(values_before)
    expect(neighbours).not_to_have_text(neighbours_before)
    # waits for the table's last update (an earlier one may still be on the page)
    nearest = inspector.locator(".course-inspector-neighbours")
    expect(nearest).to_contain_text(f"nearest to {choice}")

    # A word that is not in the table is a message on the page, and the view stays.
    values_after = values.inner_text()
    box.fill("")
    box.press_sequentially("qqqzzz")
    box.press("Enter")
    expect(inspector.locator(".course-inspector-message")).to_contain_text(
        "'qqqzzz' is not a known token"
    )
    assert values.inner_text() == values_after
    box.fill("")
    box.press_sequentially(choice)
    box.press("Enter")
    expect(inspector.locator(".course-inspector-message")).to_have_text("")
    wait_for_kernel(lab, page)
    inspector.scroll_into_view_if_needed()


def ask_by_click_click_enter_click(lab: Lab, page, expect) -> None:
    """A learner's four questions to a real model: send button, send button, Enter, send button.

    Oracle: the page's transcript (every question but the latest, oldest first) and the answer
    line. Each question must be answered once: after the k-th, the transcript lists exactly the
    k - 1 questions before it, also a while after the kernel has gone idle.
    """
    run_all(lab, page)
    chat = page.locator(".course-chat").first
    chat.wait_for(state="visible")
    box = chat.locator(".course-chat-prompt input")
    send = chat.locator("button", has_text="send")
    answer = chat.locator(".course-chat-answer")
    asked = chat.locator(".course-chat-transcript .course-chat-question")
    message = chat.locator(".course-chat-message")
    questions = [
        ("What is rain?", "click"),
        ("Why is the sea salty?", "click"),
        ("What do bees make?", "Enter"),
        ("What is the sun?", "click"),
    ]
    for number, (question, how) in enumerate(questions, start=1):
        box.click()
        box.press_sequentially(question)
        if how == "click":
            send.click()
        else:
            box.press("Enter")
        expect(answer).to_contain_text("answer:")
        expect(asked).to_have_count(number - 1)
        wait_for_kernel(lab, page)
        page.wait_for_timeout(1500)  # a second answer would arrive within this
        wait_for_kernel(lab, page)
        expect(box).to_have_value("")
        expect(message).to_have_text("")
        expect(asked).to_have_count(number - 1)
    assert [line.lstrip("> ") for line in asked.all_inner_texts()] == [q for q, _ in questions[:-1]]
    # The sliders' labels are shown whole (the default label width cut one to "temperat...").
    for label in ("temperature", "top-k"):
        shown = chat.locator(".widget-slider .widget-label", has_text=label).first
        expect(shown).to_be_visible()
        whole = shown.evaluate("label => label.scrollWidth <= label.clientWidth")
        assert whole, f"the slider label {label!r} is cut off"


def save(lab: Lab, page, path: Path, timeout: float = 60) -> None:
    """Click the notebook's save button and wait until the file on disk is rewritten whole."""
    before = path.stat().st_mtime_ns
    page.locator('.jp-NotebookPanel-toolbar [data-command="docmanager:save"]').first.click()
    deadline = time.monotonic() + timeout
    while True:
        try:
            if path.stat().st_mtime_ns != before:
                json.loads(path.read_text())
                return
        except ValueError:
            pass  # being written
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} was not saved in {timeout} s:\n{lab.log.read_text()[-3000:]}")
        time.sleep(0.2)


def shows_saved_widgets(lab: Lab, page, expect, inspectors: int) -> None:
    """The reopened notebook (nothing run) shows `inspectors` inspectors and no widget error."""
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible")
    wait_for_kernel(lab, page)
    page.wait_for_function(
        """(wanted) => document.querySelectorAll('.course-inspector').length >= wanted
            || document.body.textContent.includes('Error displaying widget')""",
        arg=inspectors,
        timeout=60_000,
    )
    page.wait_for_timeout(1000)  # every output has had the time to render
    text = page.locator(".jp-NotebookPanel").first.text_content()
    assert "Error displaying widget" not in text, "a saved widget could not be shown"
    expect(page.locator(".course-inspector")).to_have_count(inspectors)
    expect(page.locator(".course-inspector").first).to_be_visible()
