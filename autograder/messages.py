"""What happened to a student's code, in words a student understands: the limit or rule an error
ran into, a signal's name, the line of the student's code a dump of the stack points to."""
import re
import signal


MEMORY_WORDS = ("MemoryError", "can't allocate memory", "Cannot allocate memory", "out of memory")
NETWORK_WORDS = ("Network is unreachable", "Cannot assign requested address", "Connection refused",
                 "Temporary failure in name resolution", "Name or service not known")


def explain(message, limits):
    """Prefix an exception's message with the limit or rule it ran into, if any."""
    if any(w in message for w in MEMORY_WORDS) and not message.startswith("memory limit"):
        return f"memory limit exceeded ({limits['memory_mb']} MB): {message}"
    if any(w in message for w in NETWORK_WORDS) and not message.startswith("network refused"):
        return f"network refused (the grader runs your code without network access): {message}"
    if "SystemExit" in message or "KeyboardInterrupt" in message:
        return f"exited: your code tried to stop the program (sys.exit, exit() or KeyboardInterrupt): {message}"
    return message


def signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


STUDENT_FRAME = re.compile(r'File "([^"]*(?: cell | lines )[^"]*)", line (\d+)')


def student_line(trace_text, sources):
    """The innermost line of the student's code in a faulthandler dump ("" if none)."""
    for filename, line in STUDENT_FRAME.findall(trace_text or ""):
        text = ""
        source = sources.get(filename)
        if source:
            lines = source.splitlines()
            if 0 < int(line) <= len(lines):
                text = f": `{lines[int(line) - 1].strip()}`"
        return f" (it was running {filename}, line {line}{text})"
    return ""
