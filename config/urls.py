from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.throttles import throttle_form_posts
from core.health import healthz

# The admin's login is a login too: throttled as the others are (django-axes locks out too).
admin.site.login = throttle_form_posts(per_username=True)(admin.site.login)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name none (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("messaging/favicon.svg"), permanent=True)),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("messaging.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: no inline script. Swagger UI adds
    # inline styles as it renders, so on this page alone styles may be inline.
    path(
        "api/docs/",
        csp_replace({"style-src": [SELF, UNSAFE_INLINE]})(
            SpectacularSwaggerSplitView.as_view(url_name="schema")
        ),
        name="api-docs",
    ),
    # Django's account views without the password reset: it mails a link, and the platform
    # sends mail only to ops (alerts); a forgotten password is reset by an admin.
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("accounts.urls")),
    path("", include("messaging.urls")),
]
