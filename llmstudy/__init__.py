"""The LLM study on top of the golden model: a real LLM (SmolLM2-135M) fake-quantized by ``golden``, its
calibration, trace capture and trace files (``traces``), the accuracy sweep (``accuracy``), the paper's Figure 2
analysis (``analysis``) and the golden model's throughput benchmark (``bench``). Needs torch for the model parts;
``traces`` and ``analysis`` need NumPy only."""
