"""The Server agent's conversion skills: ONNX export per family and the shared tail (metadata,
parity), the ONNX predictor, int8 quantization, TensorRT, and the in-process benchmark."""
