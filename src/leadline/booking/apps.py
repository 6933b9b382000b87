from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "leadline.booking"
    label = "booking"
    verbose_name = "Booking: bookable hours, free slots, meetings"
