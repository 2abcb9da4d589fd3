"""The app's code runs no nested Qt event loop where a coroutine could be
running. Under qasync, Qt's loop is asyncio's loop: a modal exec(), a static
QMessageBox/QFileDialog/QInputDialog call, processEvents() or a modal
QProgressDialog (its setValue processes events) inside a task makes asyncio
step other tasks inside that one, which it refuses ("Cannot enter into
task"), and the refused task then waits forever (grey tiles that never fill,
a list that never reloads). Dialogs are shown with open() and answer
through signals. The qt_loop fixture catches the runtime symptom; this
catches the cause in code no test happens to drive."""

from __future__ import annotations

import ast
from pathlib import Path

import threads_desktop

PACKAGE = Path(threads_desktop.__file__).parent

NESTED_LOOP_METHODS = {"exec", "exec_", "processEvents"}
STATIC_DIALOGS = {
    "QMessageBox": {"question", "information", "warning", "critical", "about", "aboutQt"},
    "QFileDialog": {"getOpenFileName", "getOpenFileNames", "getSaveFileName", "getExistingDirectory",
                    "getOpenFileUrl", "getOpenFileUrls", "getSaveFileUrl", "getExistingDirectoryUrl"},
    "QInputDialog": {"getText", "getInt", "getDouble", "getItem", "getMultiLineText"},
    "QColorDialog": {"getColor"},
    "QFontDialog": {"getFont"},
}
FORBIDDEN_CLASSES = {"QProgressDialog"}

# Where a nested loop is right, and why: no asyncio task can be running there.
ALLOWED = {
    ("ui/single_instance.py", "exec"): "waits for the running app's answer before qasync's loop exists",
    ("ui/bench_gui.py", "processEvents"): "the GUI benchmark drives frames itself, outside any task",
    ("app.py", "QMessageBox.critical"): "the profile could not open: shown before the loop starts",
}


def _offences(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_CLASSES:
            found.append((node.id, node.lineno))
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name, owner = node.func.attr, node.func.value
        if name in NESTED_LOOP_METHODS:
            found.append((name, node.lineno))
        elif isinstance(owner, ast.Name) and name in STATIC_DIALOGS.get(owner.id, ()):
            found.append((f"{owner.id}.{name}", node.lineno))
    return sorted(found, key=lambda offence: offence[1])


def test_no_code_of_the_app_runs_a_nested_event_loop() -> None:
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for what, line in _offences(path):
            if (relative, what) not in ALLOWED:
                offences.append(f"{relative}:{line}: {what}")
    assert offences == [], "nested event loops (show dialogs with open() instead):\n" + "\n".join(offences)


def test_the_check_finds_each_kind_of_nested_loop(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("box.exec()\napp.processEvents()\nQMessageBox.question(None, 'a', 'b')\n"
                      "QFileDialog.getOpenFileName()\nd = QProgressDialog()\nbox.open()\n")
    assert [what for what, _line in _offences(sample)] == [
        "exec", "processEvents", "QMessageBox.question", "QFileDialog.getOpenFileName", "QProgressDialog"]
