from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "leadline.feedback"
    label = "feedback"
    verbose_name = "Feedback: the prospect's view (rating asks and answers, stop signals)"
