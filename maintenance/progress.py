"""A progress bar for management commands, drawn only on a terminal."""


class ProgressBar:
    def __init__(self, stream, *, unit: str, total: int | None = None, width: int = 30):
        self.stream, self.unit, self.total, self.width = stream, unit, total, width
        self.drawn = False
        self.tty = getattr(stream, "isatty", lambda: False)()

    def update(self, done: int) -> None:
        if not self.tty:
            return
        if self.total:
            filled = min(self.width, self.width * done // self.total)
            bar = "#" * filled + "." * (self.width - filled)
            line = f"\r[{bar}] {done}/{self.total} {self.unit}"
        else:
            line = f"\r{done} {self.unit}..."
        self.stream.write(line, ending="")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("")
