# The French order of the same dates: "5 déc., 14:03", "5 déc. 2026, 14:03".
SHORT_DATETIME_FORMAT = "j N, H:i"
DATETIME_FORMAT = "j N Y, H:i"
