import gc

from django.apps import AppConfig

# Every unit move allocates many short-lived containers; with the default
# threshold the cyclic collector runs every few hundred of them and walks the
# young objects each time. Collecting less often costs a little memory.
GC_THRESHOLDS = (20_000, 20, 20)


class CoreConfig(AppConfig):
    name = "tonne.core"
    label = "core"
    verbose_name = "Registry core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from tonne.core import durability

        connection_created.connect(durability.track, dispatch_uid="tonne.durability")
        # What is loaded at start-up (modules, settings, models) lives as long
        # as the process: keep it out of every later collection's walk.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
