from accounts.models import Preferences, preferences_of


def preferences(request):
    """The signed-in person's preferences, for the page's theme and its scripts (their time
    zone for times.js, notifications and sound for attention.js); the defaults otherwise."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"preferences": Preferences()}
    return {"preferences": preferences_of(user)}
