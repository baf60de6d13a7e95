print("sluice-bench: placeholder")
