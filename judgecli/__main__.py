from .cli.commands import main

# Guarded: a vLLM judge's engine may start processes that import the main module again.
if __name__ == "__main__":
    main()
