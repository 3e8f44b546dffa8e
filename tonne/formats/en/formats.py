"""English dates and times as the registry writes them: a 24-hour clock, so a
time never ends in "p.m." and a sentence never ends in "p.m.." (Django's
other English formats are kept)."""

DATETIME_FORMAT = "N j, Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATETIME_FORMAT = "m/d/Y H:i"
