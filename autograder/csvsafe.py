"""CSV cells safe to open in a spreadsheet: a cell that Excel, LibreOffice or Google Sheets would read
as a formula (it starts with = + - @, a tab or a carriage return: OWASP's CSV injection rule) gets a
leading apostrophe, which the spreadsheet shows as text. Every CSV a class run writes goes through here.
"""
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")  # a plain number is a value, never a formula


def spreadsheet_safe(value):
    """The cell as written: numbers as they are, text that could start a formula prefixed with '."""
    if isinstance(value, (int, float)) or value is None:
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(row):
    """A list or dict row with every cell made safe."""
    if isinstance(row, dict):
        return {key: spreadsheet_safe(value) for key, value in row.items()}
    return [spreadsheet_safe(value) for value in row]
