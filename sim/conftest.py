import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Vector budget: QR_SIM_CYCLES random-stream cycles per MAC bench (each cycle checks every lane).
os.environ.setdefault("QR_SIM_CYCLES", "2000")
