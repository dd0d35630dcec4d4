print("lynx-bench")
