from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "tonne.access"
    label = "access"
    verbose_name = "Sign-in, second factors and web hardening"

    def ready(self) -> None:
        # import here: signal receivers load once the app registry is ready
        from allauth.mfa.signals import authenticator_added
        from django.contrib.auth.signals import user_logged_in

        from tonne.access.enrolment import enrolment_confirms
        from tonne.access.sessions import mark_session_start

        user_logged_in.connect(mark_session_start, dispatch_uid="tonne.access.session_start")
        authenticator_added.connect(enrolment_confirms, dispatch_uid="tonne.access.enrolment_confirms")
