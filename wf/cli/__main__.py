"""``python -m wf.cli``: the ``wf`` command without the console script."""

from wf.cli import _register, app

if __name__ == "__main__":
    _register()
    # Help and usage lines then read "wf ...", as with the console script.
    app(prog_name="wf")
