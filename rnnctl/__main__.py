from rnnctl.cli import app

# Guarded: spawned worker processes (rnnctl sweep) re-import the main module.
if __name__ == "__main__":
    app(prog_name="rnnctl")
