import sys
from pathlib import Path

# The program imports `components` the way `pulumi up` runs it: from the project root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
