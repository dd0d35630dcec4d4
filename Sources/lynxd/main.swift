print("lynxd")
