from rnnctl.cli import app

app(prog_name="rnnctl")
