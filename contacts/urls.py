from django.urls import path

from contacts import views

app_name = "contacts"

urlpatterns = [
    path("w/<slug:workspace_slug>/contacts/", views.contact_list, name="list"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/", views.contact_detail, name="detail"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/stage/", views.contact_stage, name="stage"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/booking/", views.contact_booking, name="booking"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/memory/<int:memory_id>/edit/", views.memory_edit,
         name="memory_edit"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/memory/<int:memory_id>/delete/", views.memory_delete,
         name="memory_delete"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/person/link/", views.person_link, name="person_link"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/person/unlink/", views.person_unlink,
         name="person_unlink"),
    path("w/<slug:workspace_slug>/contacts/<int:contact_id>/person/search/", views.person_search,
         name="person_search"),
]
