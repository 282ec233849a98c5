# Dates on our pages (Django's own English formats for the rest): a message's time in a
# list, and with the year where messages of any age are shown (search, edit history).
SHORT_DATETIME_FORMAT = "M j, H:i"
DATETIME_FORMAT = "M j, Y, H:i"
