"""``python -m wf.cli``: the ``wf`` command without the console script."""

from wf.cli import main

if __name__ == "__main__":
    main()
