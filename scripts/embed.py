#!/usr/bin/env python3
"""Write a C file that holds a data file's bytes: embed.py INPUT OUTPUT SYMBOL."""
import sys

def main() -> None:
    src, dst, symbol = sys.argv[1:4]
    data = open(src, "rb").read()
    with open(dst, "w", encoding="ascii") as out:
        out.write("/* Generated from %s by scripts/embed.py. Do not edit. */\n" % src.split("/")[-1])
        out.write("#include <stddef.h>\n")
        out.write("const char %s[] = {\n" % symbol)
        for i in range(0, len(data), 16):
            out.write("  " + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",\n")
        out.write("  0x00\n};\n")
        out.write("const size_t %s_len = %d;\n" % (symbol, len(data)))

if __name__ == "__main__":
    main()
