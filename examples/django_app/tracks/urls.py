"""The track list and the replace-section request form."""

from django.urls import path

from . import views

app_name = "tracks"

urlpatterns = [
    path("", views.track_list, name="list"),
    path("replace-section/", views.replace_section, name="replace_section"),
]
