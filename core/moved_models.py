"""For migrations that move a model to another app: its content type and permissions follow
it, so the people and groups given access to the old model keep it on the new one."""


def move_content_types(apps, moved: list[tuple[str, str, str, str]], *, backwards=False):
    """`moved`: (old app, old model, new app, new model), model names lower-cased."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for old_app, old_model, new_app, new_model in moved:
        source, target = (old_app, old_model), (new_app, new_model)
        if backwards:
            source, target = target, source
        old = ContentType.objects.filter(app_label=source[0], model=source[1]).first()
        if old is None:  # a database that never had it (a new one)
            continue
        new = ContentType.objects.filter(app_label=target[0], model=target[1]).first()
        if new is None:
            old.app_label, old.model = target
            old.save(update_fields=["app_label", "model"])
            new = old
        for permission in Permission.objects.filter(content_type=old):
            codename = permission.codename.replace(source[1], target[1])
            taken = Permission.objects.filter(content_type=new, codename=codename)
            if taken.exclude(pk=permission.pk).exists():
                continue
            permission.content_type, permission.codename = new, codename
            permission.save(update_fields=["content_type", "codename"])
        if old.pk != new.pk:
            old.delete()
